"""`corpus fetch`: the apt sources entry, package builds under bear with real clang, the per-package report."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mlgo_env.corpus import Corpus
from mlgo_env.debian import (
    FetchReport,
    PackageResult,
    deb_src_entry,
    ensure_deb_src,
    fetch_corpus,
    only_signatures_missing,
)
from mlgo_env.errors import CorpusError
from mlgo_env.toolchain import Toolchain

pytestmark = pytest.mark.skipif(
    not (shutil.which("bear") and shutil.which("dpkg-buildpackage")), reason="needs bear and dpkg-dev"
)

BOOKWORM = """Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def _apt_targets(parts: Path) -> set[str]:
    """What apt itself reads from the sources files in `parts` ("Packages", "Sources").

    ``--no-release-info``: without it apt lists only targets whose Release file an earlier
    ``apt-get update`` fetched, which depends on the machine's history, not on the files.
    """
    listed = subprocess.run(
        ["apt-get", "-o", f"Dir::Etc::SourceParts={parts}", "-o", "Dir::Etc::SourceList=/dev/null",
         "indextargets", "--no-release-info", "--format", "$(CREATED_BY)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return set(listed.stdout.split())


def test_deb_src_entry_is_added_once_and_apt_reads_it(tmp_path: Path) -> None:
    sources = tmp_path / "debian.sources"
    sources.write_text(BOOKWORM)
    assert _apt_targets(tmp_path) == {"Packages"}
    updates: list[int] = []
    added = ensure_deb_src(sources, update=lambda: updates.append(1))
    assert added is not None and added.startswith("Types: deb-src\n")
    assert "URIs: http://deb.debian.org/debian\n" in added and "Suites: bookworm bookworm-updates\n" in added
    assert _apt_targets(tmp_path) == {"Packages", "Sources"}
    assert sources.read_text().startswith(BOOKWORM)  # the existing entries are kept as they were
    assert ensure_deb_src(sources, update=lambda: updates.append(1)) is None  # already there: nothing to do
    assert updates == [1]


def test_sources_without_a_deb_entry_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no 'Types: deb' entry"):
        deb_src_entry("# nothing here\n")
    with pytest.raises(CorpusError, match="cannot read"):
        ensure_deb_src(tmp_path / "missing.sources")


def test_report_has_a_row_per_package(tmp_path: Path) -> None:
    report = FetchReport(
        [PackageResult("lz4", "built", version="1.9.4", modules=12, seconds=3.0), PackageResult("x", reason="boom")],
        added_source="Types: deb-src\n",
        modules=12,
    )
    data = report.to_json()
    assert data["modules"] == 12 and data["added_source"] == "Types: deb-src\n"
    assert data["packages"]["lz4"] == {
        "package": "lz4", "status": "built", "reason": "", "version": "1.9.4", "modules": 12, "seconds": 3.0,
        "note": "",
    }  # fmt: skip
    assert data["packages"]["x"]["status"] == "failed" and data["packages"]["x"]["reason"] == "boom"
    assert report.table().row_count == 2


def _local_package(output: Path, name: str, source: str, compiler: str = "$(CC)") -> None:
    """A minimal Debian source package, as `apt-get source` would have unpacked it into DIR/sources/NAME.

    Its rules compile with `compiler` (the ``CC`` the build sets, unless a rule names one itself).
    """
    tree = output / "sources" / name / f"{name}-1.0"
    (tree / "debian" / "source").mkdir(parents=True)
    (tree / "debian" / "source" / "format").write_text("3.0 (native)\n")
    (tree / "debian" / "control").write_text(
        f"Source: {name}\nMaintainer: T <t@example.org>\n\nPackage: {name}\nArchitecture: any\nDescription: t\n t\n"
    )
    (tree / "debian" / "changelog").write_text(
        f"{name} (1.0) unstable; urgency=low\n\n  * t\n\n -- T <t@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n"
    )
    rules = tree / "debian" / "rules"
    rules.write_text(  # flags from dpkg-buildflags, as debhelper passes them
        "#!/usr/bin/make -f\nCFLAGS := $(shell dpkg-buildflags --get CFLAGS)\n"
        f"build-arch:\n\tcd src && {compiler} $(CFLAGS) -c main.c util.c\nclean:\n"
    )
    rules.chmod(0o755)
    (tree / "src").mkdir()
    (tree / "src" / "main.c").write_text("int twice(int);\nint main(void) { return twice(2); }\n")
    (tree / "src" / "util.c").write_text(source)
    (output / "sources" / name / ".fetched").write_text(tree.name)


def test_packages_build_under_bear_into_one_corpus_and_failures_are_rows(tmp_path: Path, toolchain: Toolchain) -> None:
    sources = tmp_path / "debian.sources"
    sources.write_text(BOOKWORM + "\nTypes: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n")
    output = tmp_path / "corpus"
    _local_package(output, "mlgo-good", "int twice(int x) { return 2 * x; }\n")
    _local_package(output, "mlgo-bad", "int twice(int x) { return 2 * x }\n")
    # Old C that clang 16+ rejects and bookworm's GCC 12 accepts with a warning: it builds, as on Debian.
    _local_package(output, "mlgo-old", "int twice(int x) { return helper(x); }\nint helper(int x) { return 2 * x; }\n")
    # Rules that name GCC themselves (bzip2's CC=$(DEB_HOST_GNU_TYPE)-gcc) build with the corpus's clang too.
    clang_only = "#ifndef __clang__\n#error built by another compiler\n#endif\nint twice(int x) { return 2 * x; }\n"
    _local_package(output, "mlgo-gcc", clang_only, compiler="$(shell dpkg-architecture -qDEB_HOST_GNU_TYPE)-gcc")
    packages = ["mlgo-good", "mlgo-bad", "mlgo-old", "mlgo-gcc"]
    report = fetch_corpus(packages, output, toolchain, sources=sources, jobs=1)
    rows = {row.package: row for row in report.packages}
    assert rows["mlgo-old"].status == "built", rows["mlgo-old"]
    assert rows["mlgo-gcc"].status == "built" and rows["mlgo-gcc"].modules == 2, rows["mlgo-gcc"]
    assert rows["mlgo-good"].status == "built" and rows["mlgo-good"].modules == 2
    assert rows["mlgo-good"].version == "1.0"
    assert rows["mlgo-bad"].status == "failed" and "build failed" in rows["mlgo-bad"].reason
    assert "util.c" in rows["mlgo-bad"].reason and "error:" in rows["mlgo-bad"].reason  # the compiler's words
    assert report.added_source is None and report.modules == 6
    corpus = Corpus.load(output)
    assert sorted(m for m in corpus.modules if m.startswith("mlgo-good/")) == [
        "mlgo-good/mlgo-good-1.0/src/main",
        "mlgo-good/mlgo-good-1.0/src/util",
    ]
    assert json.loads((output / "fetch_report.json").read_text()) == report.to_json()

    # Resumed: the built package is not built again.
    log = output / "sources" / "mlgo-good" / "build.log"
    log.write_text("kept")
    again = fetch_corpus(["mlgo-good"], output, toolchain, sources=sources, jobs=1)
    assert again.packages[0].status == "built" and log.read_text() == "kept"


def test_no_package_built_is_an_error_with_the_report(tmp_path: Path, toolchain: Toolchain) -> None:
    sources = tmp_path / "debian.sources"
    sources.write_text(BOOKWORM + "\nTypes: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n")
    with pytest.raises(CorpusError, match="no package built"):
        fetch_corpus(["mlgo-no-such-package"], tmp_path / "out", toolchain, sources=sources)
    row = json.loads((tmp_path / "out" / "fetch_report.json").read_text())["packages"]["mlgo-no-such-package"]
    assert row["status"] == "failed" and "apt-get source failed" in row["reason"]
    with pytest.raises(CorpusError, match="not Debian source package names"):
        fetch_corpus(["../etc"], tmp_path / "out", toolchain, sources=sources)


@pytest.mark.slow
def test_fetch_and_build_a_real_package(tmp_path: Path, toolchain: Toolchain) -> None:
    """Network: Debian's archive. cjson is small (a few C files) and builds in seconds."""
    report = fetch_corpus(["cjson"], tmp_path / "cjson", toolchain)
    assert report.packages[0].status == "built", report.packages[0]
    assert report.modules >= 2 and len(Corpus.load(tmp_path / "cjson")) == report.modules


def test_a_missing_upstream_signature_alone_is_not_a_failed_fetch() -> None:
    """What apt-get source printed for mpg123 on a mirror without its .orig.tar.bz2.asc."""
    log = (
        "Err:3 http://deb.debian.org/debian bookworm/main mpg123 1.31.2-1+deb12u1 (asc)\n  404  Not Found\n"
        "E: Failed to fetch http://deb.debian.org/debian/pool/main/m/mpg123/mpg123_1.31.2.orig.tar.bz2.asc  404\n"
        "E: Failed to fetch some archives.\n"
    )
    assert only_signatures_missing(log)
    tarball = "E: Failed to fetch http://deb.debian.org/debian/pool/main/m/mpg123/mpg123_1.31.2.orig.tar.bz2  404\n"
    assert not only_signatures_missing(log + tarball)
    assert not only_signatures_missing("E: Unable to find a source package for mlgo-no-such-package\n")
