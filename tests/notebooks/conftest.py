import sys
from pathlib import Path

# scripts/run_notebooks.py is the runner that scripts/demo.sh uses; the tests use the same one.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
