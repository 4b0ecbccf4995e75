"""Which files a workdir sync sends: ignore rules and change detection."""

import os

from stix.sync import changed, local_files


def tree(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_gitignore_stixignore_and_nested_rules(tmp_path):
    tree(tmp_path, {
        ".gitignore": "*.log\n/build/\n!keep.log\n",
        ".stixignore": "data/\n",
        "train.py": "x", "run.log": "x", "keep.log": "x", "build/out.bin": "x", "data/big.bin": "x",
        "src/model.py": "x", "src/.gitignore": "*.tmp\n", "src/scratch.tmp": "x", "src/build/x.py": "x",
        ".git/HEAD": "ref",
    })
    names = [f.path for f in local_files(tmp_path)]
    assert names == [".gitignore", ".stixignore", "keep.log", "src/.gitignore", "src/build/x.py", "src/model.py", "train.py"]


def test_only_changed_files_are_sent(tmp_path):
    tree(tmp_path, {"a.py": "1", "b.py": "2"})
    files = local_files(tmp_path)
    manifest = {f.path: [f.size, f.mtime_ns] for f in files}
    assert changed(files, manifest) == []
    (tmp_path / "b.py").write_text("22")
    os.utime(tmp_path / "b.py", ns=(1, 1))
    assert [f.path for f in changed(local_files(tmp_path), manifest)] == ["b.py"]
