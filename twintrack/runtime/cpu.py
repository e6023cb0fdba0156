"""What this machine's CPU runs natively: int8 dot products (VNNI/AMX) and bfloat16 (AVX512-BF16/AMX).

``precision: auto`` picks int8 or bf16 only where the CPU has the instructions that make them faster than fp32;
elsewhere they are emulated (bf16 ran 2x slower than fp32 on an AVX512 CPU without BF16), and int8 on AVX2 without
VNNI can saturate its 16-bit intermediate sums (ONNX Runtime's documented u8s8 caveat).
"""

from __future__ import annotations

import torch


def _probe(*names: str) -> bool:
    # torch's private CPU probes (torch >= 2.3); a torch without one counts as a CPU without that unit.
    probes = [getattr(torch.cpu, name, None) for name in names]
    return any(probe is not None and probe() for probe in probes)


def native_int8() -> bool:
    """AVX512-VNNI (or AVX-VNNI) or AMX: int8 convolutions about 2-4x faster than fp32."""
    return _probe("_is_vnni_supported", "_is_amx_tile_supported")


def native_bf16() -> bool:
    """AVX512-BF16 or AMX: bfloat16 matmuls and convolutions faster than fp32."""
    return _probe("_is_avx512_bf16_supported", "_is_amx_tile_supported")
