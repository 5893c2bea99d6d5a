package org.seqstream.pipeline;

import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.WriteBufferManager;

import java.util.Map;

/**
 * Bounds the memory of every RocksDB store of the process: one 16 MB block cache shared by all
 * stores, memtables counted against it, 1 MB write buffers. Kafka Streams' defaults (a 50 MB
 * cache and three 16 MB memtables per store, per partition) let a decoder with 4 partitions
 * grow by hundreds of MB over a long run; the stores here are small (requests in flight and
 * answered ids), and their reads mostly hit the Kafka Streams record cache in front of them.
 */
public final class BoundedRocksDB implements RocksDBConfigSetter {
    private static final long TOTAL_BYTES = 16L << 20;
    private static final long MEMTABLE_BYTES = 8L << 20;
    private static final Cache CACHE;
    private static final WriteBufferManager WRITE_BUFFERS;

    static {
        // Kafka Streams may load this class by name while parsing its configuration, before it
        // opens a store (and so before it loads RocksDB's native library)
        RocksDB.loadLibrary();
        CACHE = new LRUCache(TOTAL_BYTES, -1, false, 0.1);
        WRITE_BUFFERS = new WriteBufferManager(MEMTABLE_BYTES, CACHE);
    }

    @Override
    public void setConfig(String storeName, Options options, Map<String, Object> configs) {
        BlockBasedTableConfig table = (BlockBasedTableConfig) options.tableFormatConfig();
        table.setBlockCache(CACHE);
        table.setCacheIndexAndFilterBlocks(true);
        table.setCacheIndexAndFilterBlocksWithHighPriority(true);
        table.setPinTopLevelIndexAndFilter(true);
        options.setWriteBufferManager(WRITE_BUFFERS);
        options.setWriteBufferSize(1L << 20);
        options.setMaxWriteBufferNumber(2);
        options.setTableFormatConfig(table);
    }

    @Override
    public void close(String storeName, Options options) {
        // the cache and the write buffer manager are shared by every store: never closed here
    }
}
