"""`torchrun --nproc_per_node N -m twintrack.train siamfc --data ... --out RUN [key=value ...]`: multi-process
training (see ``twintrack.cli.train.torchrun_main``). An entry point, never imported: the one module of train/
that reaches up to the CLI layer, because torchrun needs a ``-m`` module to start."""

import sys

from twintrack.cli.train import torchrun_main

sys.exit(torchrun_main(sys.argv[1:]))
