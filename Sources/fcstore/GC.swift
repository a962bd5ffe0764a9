import ArgumentParser
import FCStorage

struct GC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete tensors no checkpoint uses, then compact the store file.")

    @OptionGroup var store: StoreOptions
    @OptionGroup var output: JSONOption

    struct GCJSON: Encodable {
        var blobsRemoved: Int
        var blobBytesRemoved: Int64
        var bytesBefore: Int64
        var bytesAfter: Int64
        enum CodingKeys: String, CodingKey {
            case blobsRemoved = "blobs_removed"
            case blobBytesRemoved = "blob_bytes_removed"
            case bytesBefore = "bytes_before"
            case bytesAfter = "bytes_after"
        }
    }

    func run() throws {
        let result = try store.openExisting().gc()
        if output.json {
            try Console.json(GCJSON(blobsRemoved: result.blobsRemoved, blobBytesRemoved: result.blobBytesRemoved,
                                    bytesBefore: result.bytesBefore, bytesAfter: result.bytesAfter))
            return
        }
        Console.out("removed \(result.blobsRemoved) unused tensors (\(Format.bytes(result.blobBytesRemoved))); store \(Format.bytes(result.bytesBefore)) -> \(Format.bytes(result.bytesAfter)), \(Format.bytes(result.bytesBefore - result.bytesAfter)) reclaimed")
        if !result.walCheckpointComplete {
            Console.err("note: a reader kept the write-ahead log from being truncated; run gc again when no other fcstore process is using the store")
        }
    }
}
