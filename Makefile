# Two entry points on a fresh clone: `make demo` and `make test`. Both create .venv and install on first use.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	# Exactly one OpenCV wheel: a venv made before the switch to the headless contrib build still holds another one,
	# and two wheels share one cv2 folder. Remove them before installing (a no-op in a fresh venv).
	$(VENV)/bin/pip uninstall --quiet --disable-pip-version-check -y opencv-python opencv-python-headless opencv-contrib-python
	# Every extra (train, eval, vot, onnx, video) and the test tools: the suite covers all of them.
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[all,test]'
	# vot-toolkit 0.9.0 (twintrack eval's VOT integration, docs/vot.md) declares opencv-python, which would
	# overwrite opencv-contrib-python-headless's cv2 folder: install its other requirements (attributee pinned for Python
	# 3.11), then the toolkit itself without dependencies. tests/test_vot_toolkit.py checks one OpenCV remains.
	$(VENV)/bin/pip install --quiet --disable-pip-version-check "vot-trax>=4.0.1" "pylatex>=1.3" "jsonschema>=3.2" \
		"numba>=0.47" "requests>=2.22" "colorama>=0.4.3" "packaging>=20" "dominate>=2.5" "cachetools>=4.1" \
		"bidict>=0.19" "phx-class-registry>=5.0" "attributee==0.1.9" "lazy-object-proxy>=1.9" "Pillow>=7.0"
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps vot-toolkit==0.9.0
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/twintrack demo --output twintrack_demo.mp4

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) twintrack.egg-info .pytest_cache twintrack_demo.mp4
