"""One RocksDB block cache for every table partition a worker holds, instead of one each.

faust-streaming 0.15.3 builds a new `rocksdict.Cache` for every partition database it opens
(`RocksDBOptions.as_options`), so a worker's cache memory was the configured size times its
partitions (5 tables × the partitions it holds, active and standby): 20 × 8 MiB at 4 partitions,
2.5 GiB at 64. A RocksDB cache can be shared by several databases, and then the configured size
bounds them all: `NUDGEFLOW_ROCKSDB_BLOCK_CACHE_BYTES` is the worker's cache, whatever it holds.
Measured in the soak (docs/benchmarks.md): the per-partition caches were still filling after
10 minutes, a quarter of the RSS growth.

`apply()` replaces the rocksdict branch of `as_options` with the same options and the shared
cache (one per size); the python-rocksdb branch is left as it is. It refuses other Faust versions.
"""

from __future__ import annotations

from typing import Any

FAUST_VERSION = "0.15.3"
_caches: dict[int, Any] = {}


def shared_cache(size: int) -> Any:
    """The process's block cache of `size` bytes (created on first use)."""
    import rocksdict

    if size not in _caches:
        _caches[size] = rocksdict.Cache(size)
    return _caches[size]


def apply() -> None:
    import faust
    import rocksdict
    from faust.stores.rocksdb import RocksDBOptions

    if faust.__version__ != FAUST_VERSION:
        raise RuntimeError(f"shared_block_cache targets faust-streaming {FAUST_VERSION}, not {faust.__version__}")
    if getattr(RocksDBOptions.as_options, "shares_block_cache", False):
        return
    original = RocksDBOptions.as_options

    def as_options(self: Any) -> Any:
        if not self.use_rocksdict:
            return original(self)
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_max_open_files(self.max_open_files)
        options.set_write_buffer_size(self.write_buffer_size)
        options.set_target_file_size_base(self.target_file_size_base)
        options.set_max_write_buffer_number(self.max_write_buffer_number)
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, block_based=True)
        table.set_block_cache(shared_cache(self.block_cache_size))
        table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        options.set_block_based_table_factory(table)
        return options

    as_options.shares_block_cache = True  # type: ignore[attr-defined]
    RocksDBOptions.as_options = as_options  # type: ignore[method-assign]
