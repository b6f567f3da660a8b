"""The project installs as declared: every sub-package is listed, the CLI answers, plugins register."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_subpackage_is_listed_for_wheels():
    # Editable installs find sub-packages on their own; a built wheel only ships what is listed.
    cfg = _pyproject()["tool"]["setuptools"]
    listed = set(cfg["packages"])
    for name, folder in cfg["package-dir"].items():
        base = ROOT / folder
        assert (base / "__init__.py").is_file(), f"{folder} is not a package"
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            dotted = ".".join((name, *rel.parts)) if rel.parts else name
            assert dotted in listed, f"sub-package {dotted} missing from [tool.setuptools].packages"


def test_wildasr_help_and_bad_usage():
    ok = subprocess.run([sys.executable, "-m", "wildasr.cli", "--help"], capture_output=True, text=True)
    assert ok.returncode == 0 and "COMMAND" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "wildasr.cli", "no-such-cmd"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_ci_calls_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash run.sh test" in readme.split("\n## ")[0]
    assert "bash run.sh test" in ci


def test_package_data_files_exist():
    # data files the code reads must be declared, or a built wheel would run without them
    cfg = _pyproject()["tool"]["setuptools"]
    for package, patterns in cfg.get("package-data", {}).items():
        folder = ROOT / cfg["package-dir"][package]
        for pattern in patterns:
            assert list(folder.glob(pattern)), f"{package}: no file matches {pattern}"
