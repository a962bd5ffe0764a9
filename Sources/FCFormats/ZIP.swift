/// CRC-32 (ISO-HDLC, the one ZIP and zlib use: reflected polynomial
/// 0xEDB88320, initial and final XOR 0xFFFFFFFF), table-driven.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum<C: Collection<UInt8>>(_ bytes: C) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { table in
            for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        }
        return crc ^ 0xFFFF_FFFF
    }
}

/// Just enough ZIP (PKWARE APPNOTE 6.3) for .npz: stored (method 0) members.
///
/// The writer emits local headers, the central directory and the end record,
/// with a fixed timestamp (1980-01-01 00:00) so the bytes are deterministic.
/// The reader goes through the central directory, understands the ZIP64
/// extra fields and end records numpy writes (`force_zip64=True`), and
/// refuses: deflated or encrypted members, multi-disk archives, members whose
/// bytes lie outside the file or overlap, duplicate names, CRC mismatches,
/// and more than `maximumMembers` members.
enum ZIP {
    static let maximumMembers = 10_000

    static let localSignature: UInt32 = 0x0403_4B50
    static let centralSignature: UInt32 = 0x0201_4B50
    static let endSignature: UInt32 = 0x0605_4B50
    static let zip64EndSignature: UInt32 = 0x0606_4B50
    static let zip64LocatorSignature: UInt32 = 0x0706_4B50

    /// A stored archive of `members`, in order.
    /// - Throws: `ModelFormatError` (format `.zip`) when a member or the archive
    ///   exceeds 4 GiB or there are more than 65,535 members (the writer does not write ZIP64).
    static func storedArchive(_ members: [(name: String, data: [UInt8])]) throws -> [UInt8] {
        let dosTime: UInt16 = 0, dosDate: UInt16 = (0 << 9) | (1 << 5) | 1 // 1980-01-01 00:00
        guard members.count <= 0xFFFF else {
            throw ModelFormatError(.zip, "The archive would hold \(members.count) members; the npz writer supports at most 65,535.")
        }
        var archive: [UInt8] = []
        var central: [UInt8] = []
        for member in members {
            let name = Array(member.name.utf8)
            guard member.data.count < 0xFFFF_FFFF, archive.count < 0xFFFF_FFFF - 30 - name.count - member.data.count else {
                throw ModelFormatError(.zip, "The archive would exceed 4 GiB; the npz writer does not write ZIP64. Use safetensors for models this large.")
            }
            let crc = CRC32.checksum(member.data)
            let offset = UInt32(archive.count)
            var common: [UInt8] = []
            common += littleEndianBytes(UInt16(20))            // version needed: 2.0
            common += littleEndianBytes(UInt16(name.contains { $0 >= 0x80 } ? 0x0800 : 0)) // flags: UTF-8 names
            common += littleEndianBytes(UInt16(0))             // method: stored
            common += littleEndianBytes(dosTime) + littleEndianBytes(dosDate)
            common += littleEndianBytes(crc)
            common += littleEndianBytes(UInt32(member.data.count)) + littleEndianBytes(UInt32(member.data.count))
            common += littleEndianBytes(UInt16(name.count))
            common += littleEndianBytes(UInt16(0))             // extra length

            archive += littleEndianBytes(localSignature) + common + name + member.data

            central += littleEndianBytes(centralSignature) + littleEndianBytes(UInt16(20)) + common
            central += littleEndianBytes(UInt16(0))            // comment length
            central += littleEndianBytes(UInt16(0))            // disk number start
            central += littleEndianBytes(UInt16(0))            // internal attributes
            central += littleEndianBytes(UInt32(0))            // external attributes
            central += littleEndianBytes(offset) + name
        }
        guard archive.count + central.count < 0xFFFF_FFFF else {
            throw ModelFormatError(.zip, "The archive would exceed 4 GiB; the npz writer does not write ZIP64. Use safetensors for models this large.")
        }
        let centralOffset = UInt32(archive.count)
        archive += central
        archive += littleEndianBytes(endSignature)
        archive += littleEndianBytes(UInt16(0)) + littleEndianBytes(UInt16(0))
        archive += littleEndianBytes(UInt16(members.count)) + littleEndianBytes(UInt16(members.count))
        archive += littleEndianBytes(UInt32(central.count)) + littleEndianBytes(centralOffset)
        archive += littleEndianBytes(UInt16(0))                // comment length
        return archive
    }

    /// The members of a stored archive, in central-directory order.
    /// - Throws: `ModelFormatError` (format `.zip`) naming the first problem.
    /// Checks the end of an archive of `fileSize` bytes whose last bytes are `tail`
    /// (at least the last 22 + 65,535, or the whole file) before the body is read: the
    /// end-of-central-directory record must be there, and a directory it places (without
    /// ZIP64) must lie inside the file, before the record. `readStored` checks the rest.
    /// - Throws: `ModelFormatError` (zip), with `readStored`'s wording.
    static func checkEndRecord(_ tail: [UInt8], fileSize: Int) throws {
        func fail(_ message: String) -> ModelFormatError { ModelFormatError(.zip, message) }
        guard fileSize >= 22, tail.count >= 22 else {
            throw fail("The file is \(fileSize) bytes long, too short for a ZIP archive (an npz file is one).")
        }
        let start = fileSize - tail.count   // the tail's offset in the file
        var candidate = tail.count - 22
        while candidate >= 0 {
            if readUInt32LE(tail, at: candidate) == endSignature,
               Int(readUInt16LE(tail, at: candidate + 20)) == tail.count - candidate - 22 {
                let centralSize = UInt64(readUInt32LE(tail, at: candidate + 12))
                let centralOffset = UInt64(readUInt32LE(tail, at: candidate + 16))
                let end = UInt64(start + candidate)
                if centralSize != 0xFFFF_FFFF, centralOffset != 0xFFFF_FFFF, centralOffset + centralSize > end {
                    throw fail("The ZIP central directory (offset \(centralOffset), \(centralSize) bytes) lies outside the file; the file is truncated or damaged.")
                }
                return
            }
            candidate -= 1
        }
        throw fail("The file has no ZIP end-of-central-directory record; it is not a ZIP archive (npz files are), or it is truncated.")
    }

    static func readStored(_ bytes: [UInt8]) throws -> [(name: String, data: ArraySlice<UInt8>)] {
        func fail(_ message: String) -> ModelFormatError { ModelFormatError(.zip, message) }
        guard !bytes.isEmpty else { throw fail("The file is empty; an npz file is a ZIP archive.") }
        guard bytes.count >= 22 else { throw fail("The file is \(bytes.count) bytes long, too short for a ZIP archive (an npz file is one).") }

        // The end of central directory record: 22 bytes plus a comment that ends the file.
        var endOffset: Int? = nil
        var candidate = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 0xFFFF)
        while candidate >= lowest {
            if readUInt32LE(bytes, at: candidate) == endSignature,
               Int(readUInt16LE(bytes, at: candidate + 20)) == bytes.count - candidate - 22 {
                endOffset = candidate
                break
            }
            candidate -= 1
        }
        guard let end = endOffset else {
            throw fail("The file has no ZIP end-of-central-directory record; it is not a ZIP archive (npz files are), or it is truncated.")
        }
        var diskNumber = UInt64(readUInt16LE(bytes, at: end + 4))
        var centralDisk = UInt64(readUInt16LE(bytes, at: end + 6))
        var diskEntries = UInt64(readUInt16LE(bytes, at: end + 8))
        var entryCount = UInt64(readUInt16LE(bytes, at: end + 10))
        var centralSize = UInt64(readUInt32LE(bytes, at: end + 12))
        var centralOffset = UInt64(readUInt32LE(bytes, at: end + 16))
        var centralLimit = end // the central directory must end before this offset

        if entryCount == 0xFFFF || diskEntries == 0xFFFF || centralSize == 0xFFFF_FFFF || centralOffset == 0xFFFF_FFFF {
            // ZIP64: a locator right before the end record points at the ZIP64 end record.
            guard end >= 20, readUInt32LE(bytes, at: end - 20) == zip64LocatorSignature else {
                throw fail("The ZIP end record asks for ZIP64 values but there is no ZIP64 locator before it.")
            }
            let recordOffset64 = readUInt64LE(bytes, at: end - 12)
            guard end >= 20 + 56, recordOffset64 <= UInt64(end - 20 - 56) else {
                throw fail("The ZIP64 end record offset \(recordOffset64) lies outside the file.")
            }
            let record = Int(recordOffset64)
            guard readUInt32LE(bytes, at: record) == zip64EndSignature else {
                throw fail("The ZIP64 end record is missing or damaged.")
            }
            diskNumber = UInt64(readUInt32LE(bytes, at: record + 16))
            centralDisk = UInt64(readUInt32LE(bytes, at: record + 20))
            diskEntries = readUInt64LE(bytes, at: record + 24)
            entryCount = readUInt64LE(bytes, at: record + 32)
            centralSize = readUInt64LE(bytes, at: record + 40)
            centralOffset = readUInt64LE(bytes, at: record + 48)
            centralLimit = record
        }
        guard diskNumber == 0, centralDisk == 0, diskEntries == entryCount else {
            throw fail("The ZIP archive spans several disks; only single-file archives are supported.")
        }
        guard entryCount <= UInt64(maximumMembers) else {
            throw fail("The ZIP archive claims \(entryCount) members, more than the limit of \(maximumMembers).")
        }
        guard centralOffset <= UInt64(centralLimit), centralSize <= UInt64(centralLimit) - centralOffset else {
            throw fail("The ZIP central directory (offset \(centralOffset), \(centralSize) bytes) lies outside the file; the file is truncated or damaged.")
        }
        let centralStart = Int(centralOffset), centralEnd = Int(centralOffset + centralSize)

        var members: [(name: String, data: ArraySlice<UInt8>)] = []
        var spans: [(begin: Int, end: Int, name: String)] = []
        var names = Set<String>()
        var cursor = centralStart
        for number in 0..<Int(entryCount) {
            guard cursor + 46 <= centralEnd, readUInt32LE(bytes, at: cursor) == centralSignature else {
                throw fail("ZIP central directory entry \(number + 1) of \(entryCount) is missing or damaged.")
            }
            let flags = readUInt16LE(bytes, at: cursor + 8)
            let method = readUInt16LE(bytes, at: cursor + 10)
            let crc = readUInt32LE(bytes, at: cursor + 16)
            var compressedSize = UInt64(readUInt32LE(bytes, at: cursor + 20))
            var size = UInt64(readUInt32LE(bytes, at: cursor + 24))
            let nameLength = Int(readUInt16LE(bytes, at: cursor + 28))
            let extraLength = Int(readUInt16LE(bytes, at: cursor + 30))
            let commentLength = Int(readUInt16LE(bytes, at: cursor + 32))
            var localOffset = UInt64(readUInt32LE(bytes, at: cursor + 42))
            let entryEnd = cursor + 46 + nameLength + extraLength + commentLength
            guard entryEnd <= centralEnd else {
                throw fail("ZIP central directory entry \(number + 1) runs past the end of the directory.")
            }
            let nameBytes = bytes[(cursor + 46)..<(cursor + 46 + nameLength)]
            guard firstInvalidUTF8Offset(nameBytes) == nil else {
                throw fail("ZIP member \(number + 1) has a name that is not valid UTF-8.")
            }
            let name = String(decoding: nameBytes, as: UTF8.self)
            guard names.insert(name).inserted else {
                throw fail("The ZIP archive holds two members named \"\(name)\"; member names must be unique.")
            }
            guard flags & 0x0001 == 0 else { throw fail("ZIP member \"\(name)\" is encrypted; fcstore reads unencrypted npz files only.") }
            guard method == 0 else {
                throw fail(method == 8
                    ? "ZIP member \"\(name)\" is deflated; fcstore reads uncompressed npz files. Save with numpy.savez, not numpy.savez_compressed."
                    : "ZIP member \"\(name)\" uses compression method \(method); fcstore reads stored (uncompressed) members only.")
            }

            // ZIP64 extended information: the 8-byte values replace the 0xFFFFFFFF fields, in order.
            var extra = cursor + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = readUInt16LE(bytes, at: extra), length = Int(readUInt16LE(bytes, at: extra + 2))
                guard extra + 4 + length <= extraEnd else { throw fail("ZIP member \"\(name)\" has a damaged extra field.") }
                if id == 0x0001 {
                    var field = extra + 4
                    func next() throws -> UInt64 {
                        guard field + 8 <= extra + 4 + length else { throw fail("ZIP member \"\(name)\" has a ZIP64 extra field that is too short.") }
                        defer { field += 8 }
                        return readUInt64LE(bytes, at: field)
                    }
                    if size == 0xFFFF_FFFF { size = try next() }
                    if compressedSize == 0xFFFF_FFFF { compressedSize = try next() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next() }
                }
                extra += 4 + length
            }
            guard compressedSize == size else {
                throw fail("ZIP member \"\(name)\" is stored but its compressed size \(compressedSize) differs from its size \(size).")
            }

            // The local header and the data must lie before the central directory.
            guard localOffset <= UInt64(centralStart), UInt64(centralStart) - localOffset >= 30 else {
                throw fail("ZIP member \"\(name)\" has its local header at offset \(localOffset), outside the file's member area; the file is damaged.")
            }
            let local = Int(localOffset)
            guard readUInt32LE(bytes, at: local) == localSignature else {
                throw fail("ZIP member \"\(name)\" has no local header at offset \(local); the file is damaged.")
            }
            let localNameLength = Int(readUInt16LE(bytes, at: local + 26))
            let localExtraLength = Int(readUInt16LE(bytes, at: local + 28))
            let dataStart = local + 30 + localNameLength + localExtraLength
            guard dataStart <= centralStart, size <= UInt64(centralStart - dataStart) else {
                throw fail("ZIP member \"\(name)\" (\(size) bytes at offset \(dataStart)) runs past the member area into the central directory or past the end of the file.")
            }
            guard bytes[(local + 30)..<(local + 30 + localNameLength)].elementsEqual(nameBytes) else {
                throw fail("ZIP member \"\(name)\" has a different name in its local header; the file is damaged.")
            }
            guard readUInt16LE(bytes, at: local + 8) == 0 else {
                throw fail("ZIP member \"\(name)\" is compressed according to its local header; fcstore reads stored members only.")
            }
            let data = bytes[dataStart..<(dataStart + Int(size))]
            let actual = CRC32.checksum(data)
            guard actual == crc else {
                throw fail("ZIP member \"\(name)\" fails its CRC-32 check (stored \(hex(crc)), computed \(hex(actual))); the file is damaged.")
            }
            members.append((name, data))
            spans.append((local, dataStart + Int(size), name))
            cursor = entryEnd
        }

        // Members must not share bytes (else a small file could expand to many large tensors).
        let sorted = spans.sorted { $0.begin < $1.begin }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where next.begin < previous.end {
            throw fail("ZIP members \"\(previous.name)\" and \"\(next.name)\" overlap; the file is damaged or hostile.")
        }
        return members
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}
