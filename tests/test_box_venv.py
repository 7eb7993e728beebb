"""A box's venv: byte-compiled by every core less the packages' tests, and an update that reuses what did not change.

Made with this machine's Debian python3 and python3-pip, as install.sh and motcua-update make it on a box.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from boxes.boxvenv import make_venv, seed_venv
from boxes.release import make_bytecode

OS_PYTHON = "/usr/bin/python3"


def wheel(folder: Path, name: str, version: str, requires: list[str], files: dict[str, str],
          script: str | None = None) -> Path:
    """A pure-Python wheel: METADATA, WHEEL, RECORD, the given files and maybe a console script."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    meta = "Metadata-Version: 2.1\nName: {}\nVersion: {}\n{}".format(
        name, version, "".join(f"Requires-Dist: {r}\n" for r in requires))
    with zipfile.ZipFile(path, "w") as z:
        for arc, text in files.items():
            z.writestr(arc, text)
        if script:
            z.writestr(f"{info}/entry_points.txt", f"[console_scripts]\n{script} = {name}:main\n")
        z.writestr(f"{info}/METADATA", meta)
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    return path


def release(root: Path, version: str, dep_text: str = "VALUE = 1\n", app: str = "app") -> Path:
    """A release of ``app`` at ``version`` needing 'dep' 1.0 (whose module says ``dep_text``)."""
    rel = root / "releases" / version
    wheel(rel / "wheels", "dep", "1.0", [], {"dep/__init__.py": dep_text, "dep/tests/__init__.py": "",
                                            "dep/tests/test_dep.py": "def test():\n    pass\n"}, script="deptool")
    wheel(rel / "wheels", app, version, ["dep==1.0"],
          {f"{app}/__init__.py": f"VERSION = {version!r}\ndef main():\n    print(VERSION)\n"}, script=app)
    (rel / "constraints.txt").write_text(f"dep==1.0\n{app}=={version}\n")
    return rel


def tree_digest(folder: Path) -> str:
    """Every file, link and time under ``folder``: proof that it was left exactly as it was."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        st = p.lstat()
        h.update(f"{p.relative_to(folder)} {st.st_mode} {st.st_size} {st.st_mtime_ns}\n".encode())
        if p.is_file() and not p.is_symlink():
            h.update(p.read_bytes())
    return h.hexdigest()


def site(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def run(python: Path, code: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True, cwd="/",
                          env=env).stdout.strip()


def test_the_venv_is_compiled_less_the_packages_tests(tmp_path):
    rel = release(tmp_path, "1.0.0")
    venv = make_venv(rel, "app==1.0.0", python=OS_PYTHON)
    sp = site(venv)
    assert list((sp / "dep" / "__pycache__").glob("__init__.*.pyc")), "what a daemon imports is compiled"
    assert list((sp / "app" / "__pycache__").glob("__init__.*.pyc"))
    assert not (sp / "dep" / "tests" / "__pycache__").exists(), "the package's tests are left uncompiled"
    # the compiled files are the ones Python uses: importing as another user writes nothing new
    before = tree_digest(sp)
    assert run(venv / "bin" / "python", "import app, dep; print(app.VERSION, dep.VALUE)") == "1.0.0 1"
    assert tree_digest(sp) == before


def test_the_releases_byte_code_is_used_but_never_over_a_changed_source(tmp_path, capsys):
    rel = release(tmp_path, "1.0.0")
    made = make_bytecode(rel / "wheels", rel / "bytecode", pythons=(f"{sys.version_info[0]}.{sys.version_info[1]}",))
    assert sorted(a.name.split("-")[0] for a in made) == ["app", "dep"]
    venv = make_venv(rel, "app==1.0.0", python=OS_PYTHON)
    assert "boxvenv: compiled files: 2 from the release, 0 compiled here" in capsys.readouterr().out
    sp = site(venv)
    name = f"dep/__pycache__/__init__.{sys.implementation.cache_tag}.pyc"
    with zipfile.ZipFile(next(a for a in made if a.name.startswith("dep-"))) as z:
        assert (sp / name).read_bytes() == z.read(name), "the release's compiled file, as it was made"
        assert not [n for n in z.namelist() if "/tests/" in n], "the package's tests are not compiled"
    # Python takes it as it is: importing as another user writes nothing new
    before = tree_digest(sp)
    assert run(venv / "bin" / "python", "import app, dep; print(app.VERSION, dep.VALUE)") == "1.0.0 1"
    assert tree_digest(sp) == before
    # the compiled file names its source's hash: a changed source is what runs, never the old byte code
    (sp / "dep" / "__init__.py").write_text("VALUE = 42\n")
    assert run(venv / "bin" / "python", "import dep; print(dep.VALUE)") == "42"


def test_byte_code_that_does_not_match_the_installed_source_is_left_out(tmp_path, capsys):
    rel = release(tmp_path, "1.0.0")
    made = make_bytecode(rel / "wheels", rel / "bytecode", pythons=(f"{sys.version_info[0]}.{sys.version_info[1]}",))
    other = release(tmp_path / "other", "1.0.0", dep_text="VALUE = 2\n")  # the same version, another source
    shutil.copytree(rel / "bytecode", other / "bytecode")
    venv = make_venv(other, "app==1.0.0", python=OS_PYTHON)
    assert "boxvenv: compiled files: 1 from the release, 1 compiled here" in capsys.readouterr().out
    name = f"dep/__pycache__/__init__.{sys.implementation.cache_tag}.pyc"
    with zipfile.ZipFile(next(a for a in made if a.name.startswith("dep-"))) as z:
        assert (site(venv) / name).read_bytes() != z.read(name)
    assert run(venv / "bin" / "python", "import dep; print(dep.VALUE)") == "2"


def test_an_update_reuses_the_unchanged_and_leaves_the_running_release_as_it_was(tmp_path, capsys):
    old = release(tmp_path, "1.0.0")
    make_venv(old, "app==1.0.0", python=OS_PYTHON)
    untouched = tree_digest(old)
    new = release(tmp_path, "1.1.0")
    shutil.copy(old / "wheels" / "dep-1.0-py3-none-any.whl", new / "wheels")  # the same file, byte for byte
    venv = make_venv(new, "app==1.1.0", python=OS_PYTHON, seed=old)
    assert tree_digest(old) == untouched, "the running release changed: going back would not be exact"
    assert "boxvenv: reused from 1.0.0: 1 distributions" in capsys.readouterr().out
    sp = site(venv)
    # dep's wheel is the same file in both releases: copied with its compiled files, still valid
    old_pyc = next((site(old / "venv") / "dep" / "__pycache__").glob("__init__.*.pyc"))
    new_pyc = sp / "dep" / "__pycache__" / old_pyc.name
    assert new_pyc.read_bytes() == old_pyc.read_bytes() and new_pyc.stat().st_mtime_ns == old_pyc.stat().st_mtime_ns
    # its script names the new venv's Python, and its RECORD says so (what pip checks when it uninstalls)
    script = (venv / "bin" / "deptool").read_text()
    assert script.startswith(f"#!{venv}/bin/python") and str(old) not in script
    record = (sp / "dep-1.0.dist-info" / "RECORD").read_text()
    digest = subprocess.run([OS_PYTHON, "-c", "import base64,hashlib,sys; d=open(sys.argv[1],'rb').read(); print("
                             "'sha256='+base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode())",
                             str(venv / "bin" / "deptool")], capture_output=True, text=True).stdout.strip()
    assert digest in record
    # the new app was installed from the new release, the old one is gone from this venv
    assert subprocess.run([str(venv / "bin" / "app")], capture_output=True, text=True).stdout.strip() == "1.1.0"
    assert not list(sp.glob("app-1.0.0.dist-info"))
    # nothing of the running venv is referred to from the new one
    for f in venv.rglob("*"):
        if f.is_file() and not f.is_symlink() and f.suffix != ".pyc":
            assert str(old / "venv").encode() not in f.read_bytes(), f
    # and the running release still runs on its own
    assert subprocess.run([str(old / "venv" / "bin" / "app")], capture_output=True, text=True).stdout.strip() == "1.0.0"


def test_what_an_update_reuses_shares_the_running_files_and_outlives_them(tmp_path):
    old = release(tmp_path, "1.0.0")
    make_venv(old, "app==1.0.0", python=OS_PYTHON)
    new = release(tmp_path, "1.1.0")
    shutil.copy(old / "wheels" / "dep-1.0-py3-none-any.whl", new / "wheels")
    venv = make_venv(new, "app==1.1.0", python=OS_PYTHON, seed=old)
    # the same files, not copies of them: an update on an SD card writes only what changed
    for rel in ("dep/__init__.py", next((site(old / "venv") / "dep" / "__pycache__").glob("*.pyc")).relative_to(
            site(old / "venv")).as_posix()):
        assert (site(venv) / rel).samefile(site(old / "venv") / rel), rel
    # the script names its own venv, so it is a file of its own
    assert not (venv / "bin" / "deptool").samefile(old / "venv" / "bin" / "deptool")
    # the old release pruned (what motcua-update does two releases later): the new one runs on
    before = tree_digest(site(venv))
    shutil.rmtree(old)
    assert run(venv / "bin" / "python", "import app, dep; print(app.VERSION, dep.VALUE)") == "1.1.0 1"
    assert tree_digest(site(venv)) == before, "nothing was compiled again: the linked compiled files are valid"
    assert subprocess.run([str(venv / "bin" / "app")], capture_output=True, text=True).stdout.strip() == "1.1.0"


def test_a_wheel_rebuilt_under_the_same_version_is_installed_again(tmp_path):
    old = release(tmp_path, "1.0.0")
    make_venv(old, "app==1.0.0", python=OS_PYTHON)
    new = release(tmp_path, "1.1.0", dep_text="VALUE = 2  # rebuilt, same version\n")
    assert seed_venv_into_fresh(new, old) == []
    venv = make_venv(new, "app==1.1.0", python=OS_PYTHON, seed=old)
    assert run(venv / "bin" / "python", "import dep; print(dep.VALUE)") == "2"


def test_a_running_venv_of_another_python_is_not_reused(tmp_path):
    old = release(tmp_path, "1.0.0")
    make_venv(old, "app==1.0.0", python=OS_PYTHON)
    sp = site(old / "venv")
    shutil.move(sp.parent, sp.parent.with_name("python3.99"))
    new = release(tmp_path, "1.1.0")
    shutil.copy(old / "wheels" / "dep-1.0-py3-none-any.whl", new / "wheels")
    assert seed_venv_into_fresh(new, old) == []


def seed_venv_into_fresh(new: Path, old: Path) -> list[str]:
    venv = new / "venv"
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([OS_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    return seed_venv(venv, new, old)


@pytest.mark.parametrize("name, ok", [("numpy-2.4.6-cp311-cp311-manylinux_2_27_aarch64.whl", True),
                                      ("numpy-2.4.6-cp313-cp313-manylinux_2_27_aarch64.whl", False),
                                      ("paho_mqtt-2.2.0-py3-none-any.whl", True),
                                      ("cryptography-50.0.2-cp311-abi3-manylinux2014_aarch64.whl", True)])
def test_usable_wheels_for_cpython_311(name, ok):
    from boxes.boxvenv import usable

    assert usable(name, (3, 11)) is ok


def test_motcua_update_takes_unchanged_files_from_the_running_release(tmp_path, monkeypatch, capsys):
    """Only what changed crosses the hall's LAN; every file is still checked against the signed release.json."""
    import json
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from boxes import release as rel
    from boxes import update
    from motcua.broker.certs import SiteCA

    ca = SiteCA(tmp_path / "ca", "hcm-q1").ensure()
    prefix, served = tmp_path / "opt", tmp_path / "served"
    monkeypatch.setattr(update, "PREFIX", prefix)
    monkeypatch.setattr(update, "CA", ca.cert)
    monkeypatch.setattr(update, "LOG", tmp_path / "update.log")
    monkeypatch.setenv("PATH", f"{Path(OS_PYTHON).parent}:{os.environ['PATH']}")  # the OS's python3, as on a box

    def release_of(version: str) -> Path:
        r = release(served, version, app="motcua")
        files = {str(p.relative_to(r)): hashlib.sha256(p.read_bytes()).hexdigest()
                 for p in sorted(r.rglob("*")) if p.is_file()}
        (r / "release.json").write_text(json.dumps({"version": version, "files": files}))
        rel.sign(r / "release.json", ca.key)
        return r

    old = release_of("1.0.0")
    running = prefix / "releases" / "1.0.0"
    running.parent.mkdir(parents=True)
    shutil.copytree(old, running)
    make_venv(running, "motcua==1.0.0", python=OS_PYTHON)
    new = release_of("1.1.0")
    shutil.copy(old / "wheels" / "dep-1.0-py3-none-any.whl", new / "wheels")  # unchanged, byte for byte
    files = json.loads((new / "release.json").read_text())["files"]
    files["wheels/dep-1.0-py3-none-any.whl"] = hashlib.sha256(
        (new / "wheels" / "dep-1.0-py3-none-any.whl").read_bytes()).hexdigest()
    (new / "release.json").write_text(json.dumps({"version": "1.1.0", "files": files}))
    rel.sign(new / "release.json", ca.key)
    # the running release's copy of a file the new release also has, but damaged on the SD card
    (running / "constraints.txt").write_text("damaged\n")

    asked: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def do_GET(self):
            asked.append(self.path)
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: Handler(*a, directory=str(served / "releases")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        got = update.install_release(f"http://127.0.0.1:{server.server_port}/", "1.1.0",
                                     {"extra": "x", "system_site_packages": False}, running="1.0.0")
    finally:
        server.shutdown()
    assert "/1.1.0/wheels/dep-1.0-py3-none-any.whl" not in asked  # taken from the running release
    # the same file, not a second copy on the card
    assert (got / "wheels" / "dep-1.0-py3-none-any.whl").samefile(running / "wheels" / "dep-1.0-py3-none-any.whl")
    assert "/1.1.0/wheels/motcua-1.1.0-py3-none-any.whl" in asked
    assert "/1.1.0/constraints.txt" in asked  # the damaged copy did not match the signed digest
    assert (got / "constraints.txt").read_text() == "dep==1.0\nmotcua==1.1.0\n"
    assert "reused from 1.0.0: 1 distributions" in capsys.readouterr().out
