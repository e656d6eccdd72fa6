"""The `storage:` section of config.yaml: default embedded, cluster URLs checked up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.backends.storage import S3Options, Storage
from scraper.config import load_config
from scraper.errors import ConfigError


def test_no_storage_section_is_the_embedded_archive(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("data_dir: data\n")
    storage = load_config(path).storage
    assert storage == Storage()
    assert storage.embedded


def test_a_cluster_storage_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "storage:\n"
        "  catalog: postgresql://morgue@db.example.org/morgue\n"
        "  blobs: s3://bucket/prefix\n"
        "  s3: {endpoint_url: 'http://127.0.0.1:9000', region: eu-west-1}\n"
    )
    assert load_config(path).storage == Storage(
        catalog="postgresql://morgue@db.example.org/morgue",
        blobs="s3://bucket/prefix",
        s3=S3Options(endpoint_url="http://127.0.0.1:9000", region="eu-west-1"),
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("catalog: mysql://x/y", "catalog must be a postgresql:// URL"),
        ("blobs: ftp://x/y", "blobs must be an s3:// or file:// URL"),
        ("blobs: s3:///nobucket", "needs a bucket"),
        ("blobs: file://relative/path", "absolute path"),
        ("blob: s3://b/p", "storage.blob: unknown key"),
        ("s3: {endpoint: x}", "storage.s3.endpoint: unknown key"),
    ],
)
def test_bad_storage_is_one_clear_error(tmp_path: Path, section: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"storage:\n  {section}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)
