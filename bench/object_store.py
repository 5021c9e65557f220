"""How fast files go to and come from the object store through the app, in how much memory,
and how far from the limit.

Stores a file of ``--megabytes`` random bytes (random: nothing compresses it on the way)
through the app's default storage, as an export's zip is stored (``storage.save``: boto3's
multipart upload in parts of ``STORAGE_PART_BYTES``, four in memory), then reads it back the
way imports and downloads do (``open_stored``: ranged GETs, 64 KiB reads). Each is timed and
its peak of Python allocations (tracemalloc) printed. The limit, measured in the same run on
the same store: boto3's own ``upload_file`` with its defaults, and one GET read to the end.

The store is ``moto_server`` started on a free port unless ``--endpoint`` names one (with
``STORAGE_BUCKET``, and credentials in ``STORAGE_ACCESS_KEY_ID`` / ``..._SECRET_ACCESS_KEY``);
moto keeps objects in memory and on its disk, so against it the figures are the app's
overhead more than a network's. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measured(label: str, size: int, work) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        work()
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rate = size / 2**20 / seconds
    print(f"{label:<40} {seconds:7.2f} s  {rate:8.1f} MiB/s  peak {peak / 2**20:6.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=256, help="size of the file (MiB)")
    parser.add_argument("--endpoint", help="an S3-compatible store's URL (default: moto_server)")
    parser.add_argument("--part-mib", type=int, default=8, help="STORAGE_PART_BYTES, in MiB")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("SECRET_KEY", "bench-object-store")
    with ExitStack() as stack:
        if args.endpoint:
            endpoint, bucket = args.endpoint, os.environ.get("STORAGE_BUCKET", "bench")
        else:
            from tests.s3_server import moto_server, s3_client

            endpoint, bucket = stack.enter_context(moto_server()), "bench"
            s3_client(endpoint).create_bucket(Bucket=bucket)
            os.environ.setdefault("STORAGE_ACCESS_KEY_ID", "testing")
            os.environ.setdefault("STORAGE_SECRET_ACCESS_KEY", "testing")
        os.environ.update(
            STORAGE_BUCKET=bucket,
            STORAGE_ENDPOINT_URL=endpoint,
            STORAGE_PREFIX="bench",
            STORAGE_PART_BYTES=str(args.part_mib * 2**20),
            DJANGO_SETTINGS_MODULE="annotator.settings",
        )
        import django

        django.setup()
        from django.core.files import File
        from django.core.files.storage import default_storage

        from annotator.corpus.stored_files import open_stored

        size = args.megabytes * 2**20
        source = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "data.bin"
        with source.open("wb") as out:
            for _ in range(args.megabytes):
                out.write(os.urandom(2**20))
        client = default_storage.connection.meta.client
        print(f"{args.megabytes} MiB to {endpoint}, parts of {args.part_mib} MiB")

        measured(
            "limit: boto3 upload_file (defaults)",
            size,
            lambda: client.upload_file(str(source), bucket, "bench/limit.bin"),
        )
        names = []

        def store() -> None:
            with source.open("rb") as handle:
                names.append(default_storage.save("exports/bench.bin", File(handle)))

        measured("app: storage.save (multipart)", size, store)

        def read_whole_get() -> None:
            body = client.get_object(Bucket=bucket, Key="bench/limit.bin")["Body"]
            while body.read(2**20):
                pass

        def read_stored() -> None:
            with open_stored(default_storage, names[0]) as stream:
                while stream.read(64 * 1024):
                    pass

        measured("limit: one GET read to the end", size, read_whole_get)
        measured("app: open_stored (ranged GETs)", size, read_stored)
        default_storage.delete(names[0])
        client.delete_object(Bucket=bucket, Key="bench/limit.bin")


if __name__ == "__main__":
    main()
