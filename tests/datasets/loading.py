"""What several export tests share: a text that breaks naive writers, and offline datasets."""

import functools
import socket

HOSTILE = (
    'He said "no", then\nleft; commas,,, \'quotes\' "" \\ backslash\ttab '
    "emoji 🙂👍🏽 مرحبا 漢字 zero\u200bwidth </script> =SUM(A1)\r\nend"
)


def offline_datasets(monkeypatch, tmp_path):
    """The ``datasets`` module with the network cut off and its cache in ``tmp_path``.

    Any attempt to open a connection fails the test, so what it loads provably needs no
    network; ``datasets.load_dataset`` uses the throw-away cache unless told otherwise.
    """
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "hf-cache"
    cache.mkdir(exist_ok=True)
    monkeypatch.setenv("HF_HOME", str(cache))
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)

    def no_network(*args, **kwargs):
        raise AssertionError("datasets tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(
        datasets, "load_dataset", functools.partial(datasets.load_dataset, cache_dir=str(cache))
    )
    return datasets


def load_offline(monkeypatch, tmp_path, builder: str, **kwargs):
    """``datasets.load_dataset(builder, split="train", ...)``, offline (see above)."""
    return offline_datasets(monkeypatch, tmp_path).load_dataset(builder, split="train", **kwargs)
