import CryptoPrimitives
import Dispatch
import Foundation
import Synchronization
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The SHA-256 of each file of a torrent, computed while the torrent downloads, so that the release gate does not
/// read the staged files again after the last piece
/// (``ReleaseGate/releaseTorrent(_:subject:policy:infoHash:peers:mode:precomputed:)``).
///
/// The downloader reports every piece that passed its piece hash and is on disk (``pieceVerified(_:bytes:)``), with
/// its bytes when it still holds them in memory (``SharedBytes``: the downloader's own buffer, not a copy). One
/// thread of its own (not an event loop, not the caller's) hashes the torrent's content front to back, in piece
/// order, splitting it at file boundaries (a piece may span files; zero-length files get the empty digest):
///
/// - the piece at the front, and pieces ahead of it while the held bytes stay within ``windowBytes``, are **kept**
///   when reported (a reference to the caller's bytes: no copy), hashed where they lie when the front reaches them,
///   and dropped at once;
/// - pieces reported without bytes, or ahead of the front when the window is full, are **read back** from the staged
///   file when the front reaches them (they are on disk when reported).
///
/// Memory is bounded: at most ``windowBytes`` plus one piece of the caller's bytes kept alive, plus one piece-sized
/// read buffer. Read-backs use `O_DIRECT` where the file system and the alignment allow (the engine wrote the pieces
/// that way).
///
/// When a file's last byte has been hashed, its identity (device, inode, size, modification time) is taken with
/// `stat`: the gate trusts the digest only for that file unchanged (``PrecomputedDigest``). All of a file's pieces
/// were written before they were reported, so nothing the downloader does later changes it.
///
/// ``finish()`` waits for the thread and returns the digests of the files whose every byte was hashed; a file whose
/// bytes could not be read back (or that does not exist, such as a BEP 47 pad file) has none, and the gate then
/// hashes it the ordinary way.
public final class StreamingFileHasher: Sendable {
    /// A file of the torrent, in torrent order (pad files included: the content is the files concatenated).
    public struct File: Sendable, Hashable {
        /// Path relative to ``StreamingFileHasher/directory``, components joined with `/` (the gate's file name).
        public var path: String
        public var length: Int64

        public init(path: String, length: Int64) {
            self.path = path
            self.length = length
        }
    }

    /// Bytes of reported pieces held ahead of the front by default (the front piece itself may exceed it by one piece).
    public static let defaultWindowBytes = 32 << 20

    /// The staging directory the files are under.
    public let directory: String
    public let files: [File]
    public let pieceLength: Int
    public let pieceCount: Int
    public let totalLength: Int64
    /// The cap on held pieces waiting for the front (see the type's description).
    public let windowBytes: Int

    private let state: Mutex<State>
    private let wake = DispatchSemaphore(value: 0)
    private let stopped = DispatchSemaphore(value: 0)

    struct State: Sendable {
        /// The bytes of pieces ahead of (or at) the front, by piece index.
        var held: [Int: any SharedBytes] = [:]
        var heldBytes = 0
        /// Pieces on disk that were not kept: read back at the front.
        var onDisk: [Bool]
        /// Reported pieces (a second report of the same piece is ignored).
        var reported: [Bool]
        /// The next piece to hash.
        var front = 0
        /// No more pieces will come: stop when the front needs one that was not reported.
        var draining = false
        /// Stop at once (the download failed: its digests are not wanted).
        var cancelled = false
        /// The hashing thread has stopped: bytes reported now are not kept.
        var hashingEnded = false
        var results: [String: PrecomputedDigest] = [:]
        var statistics = Statistics()
    }

    /// What the hasher did, for logs and tests.
    public struct Statistics: Sendable, Hashable {
        /// Pieces hashed from the bytes they were reported with.
        public var piecesFromMemory = 0
        /// Pieces read back from the staged files.
        public var piecesReadBack = 0
        /// The most bytes of reported pieces held at once.
        public var peakHeldBytes = 0

        public init(piecesFromMemory: Int = 0, piecesReadBack: Int = 0, peakHeldBytes: Int = 0) {
            self.piecesFromMemory = piecesFromMemory
            self.piecesReadBack = piecesReadBack
            self.peakHeldBytes = peakHeldBytes
        }
    }

    /// Starts the hashing thread.
    ///
    /// - Parameters:
    ///   - directory: where the files are (the gate's staging directory).
    ///   - files: every file of the torrent in torrent order.
    ///   - pieceLength: the torrent's piece length.
    ///   - windowBytes: cap on reported pieces held ahead of the front.
    public init(directory: String, files: [File], pieceLength: Int, windowBytes: Int = defaultWindowBytes) {
        precondition(pieceLength > 0 && windowBytes >= 0)
        self.directory = directory
        self.files = files
        self.pieceLength = pieceLength
        self.windowBytes = windowBytes
        let total = files.reduce(Int64(0)) { $0 + $1.length }
        self.totalLength = total
        let count = Int((total + Int64(pieceLength) - 1) / Int64(pieceLength))
        self.pieceCount = count
        self.state = Mutex(
            State(onDisk: [Bool](repeating: false, count: count), reported: [Bool](repeating: false, count: count)))
        let thread = Thread { [self] in
            run()
            stopped.signal()
        }
        thread.name = "swtorrent-stream-sha256"
        thread.start()
    }

    /// The size of `piece` (the last one may be shorter).
    public func size(ofPiece piece: Int) -> Int {
        Int(min(Int64(pieceLength), totalLength - Int64(piece) * Int64(pieceLength)))
    }

    /// A piece passed its piece hash and is on disk. Call it from any thread. When the piece fits the window, `bytes`
    /// is kept (not copied) until the hashing thread has hashed it, then dropped; otherwise it is dropped at once.
    ///
    /// - Parameters:
    ///   - piece: the piece index.
    ///   - bytes: the piece's bytes (exactly the piece's size), shared read-only, or nil to have them read back from
    ///     the staged files.
    public func pieceVerified(_ piece: Int, bytes: (any SharedBytes)?) {
        guard piece >= 0 && piece < pieceCount else { return }
        let size = size(ofPiece: piece)
        let bytes = bytes?.count == size ? bytes : nil
        let reported = state.withLock { state in
            guard !state.reported[piece] else { return false }
            state.reported[piece] = true
            guard let bytes, !state.hashingEnded, piece == state.front || state.heldBytes + size <= windowBytes else {
                state.onDisk[piece] = true
                return true
            }
            state.heldBytes += size
            state.statistics.peakHeldBytes = max(state.statistics.peakHeldBytes, state.heldBytes)
            state.held[piece] = bytes
            return true
        }
        if reported { wake.signal() }
    }

    /// No more pieces will be reported: waits until every reported piece at the front has been hashed and the
    /// thread has stopped.
    ///
    /// - Returns: the digests of the files whose every byte was hashed, keyed by ``File/path``.
    public func finish() -> [String: PrecomputedDigest] {
        state.withLock { $0.draining = true }
        wake.signal()
        stopped.wait()
        stopped.signal()
        return state.withLock { $0.results }
    }

    /// Stops the thread without hashing what is left (the download failed) and waits for it.
    public func cancel() {
        state.withLock { $0.cancelled = true }
        wake.signal()
        stopped.wait()
        stopped.signal()
    }

    /// What the hasher did so far.
    public var statistics: Statistics { state.withLock { $0.statistics } }

    // MARK: - The hashing thread

    private enum Next {
        case memory(any SharedBytes)
        case disk
        case wait
        case stop
    }

    private func run() {
        var cursor = Cursor(hasher: self)
        defer { cursor.closeFiles() }
        // Aligned, so that read-backs can bypass the page cache (the engine wrote the pieces with O_DIRECT).
        let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: pieceLength, alignment: DirectIO.alignment)
        defer { readBuffer.deallocate() }
        cursor.finishEmptyFiles()
        while true {
            let (next, piece): (Next, Int) = state.withLock { state in
                (Self.next(&state, pieceCount: pieceCount), state.front)
            }
            switch next {

            case .stop:
                // Pieces ahead of a gap that will not be filled: nothing more to do with the caller's bytes.
                state.withLock { state in
                    state.hashingEnded = true
                    state.held.removeAll()
                }
                return
            case .wait:
                wake.wait()
                continue
            case .memory(let bytes):
                // Hashed where they lie; `next` goes at the end of this pass, and with it the last reference here.
                bytes.withBytes { cursor.feed($0) }
                state.withLock { state in
                    state.heldBytes -= bytes.count
                    state.statistics.piecesFromMemory += 1
                    state.front += 1
                }
            case .disk:
                let part = UnsafeMutableRawBufferPointer(rebasing: readBuffer[0..<size(ofPiece: piece)])
                cursor.readBack(into: part, at: Int64(piece) * Int64(pieceLength))
                cursor.feed(UnsafeRawBufferPointer(part))
                state.withLock { state in
                    state.statistics.piecesReadBack += 1
                    state.front += 1
                }
            }
        }
    }

    private static func next(_ state: inout State, pieceCount: Int) -> Next {
        if state.front == pieceCount || state.cancelled { return .stop }
        if let buffer = state.held.removeValue(forKey: state.front) { return .memory(buffer) }
        if state.onDisk[state.front] { return .disk }
        return state.draining ? .stop : .wait
    }

    fileprivate func record(_ path: String, _ digest: PrecomputedDigest) {
        state.withLock { $0.results[path] = digest }
    }

    /// Where the hashing thread is in the content: the file being hashed and its digest so far. Thread-local.
    private struct Cursor {
        let hasher: StreamingFileHasher
        var file = 0
        var doneInFile: Int64 = 0
        var digest = IncrementalDigest(.sha256)
        /// Files some of whose bytes could not be read back: no digest for them.
        var unreadable = Set<Int>()
        /// Open files being read back: an ordinary descriptor and one with `O_DIRECT` (-1 where refused).
        var descriptors: [Int: (buffered: Int32, direct: Int32)] = [:]

        init(hasher: StreamingFileHasher) { self.hasher = hasher }

        /// Hashes the next bytes of the content (they follow the previous ones).
        mutating func feed(_ bytes: UnsafeRawBufferPointer) {
            var offset = 0
            while offset < bytes.count && file < hasher.files.count {
                let take = Int(min(Int64(bytes.count - offset), hasher.files[file].length - doneInFile))
                digest.update(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + take]))
                offset += take
                doneInFile += Int64(take)
                if doneInFile == hasher.files[file].length { finishFile() }
            }
        }

        /// Ends zero-length files at the cursor (they have no bytes to feed).
        mutating func finishEmptyFiles() {
            while file < hasher.files.count && hasher.files[file].length == doneInFile { finishFile() }
        }

        private mutating func finishFile() {
            let entry = hasher.files[file]
            let sha256 = digest.finalize()
            if let fds = descriptors.removeValue(forKey: file) { Self.closeAll(fds) }
            if !unreadable.contains(file), let fingerprint = FileFingerprint(path: hasher.directory + "/" + entry.path),
                fingerprint.isRegularFile
            {
                let digests = FileDigests(size: entry.length, sha256: sha256, blake2b512: nil)
                hasher.record(entry.path, PrecomputedDigest(digests: digests, file: fingerprint))
            }
            file += 1
            doneInFile = 0
            digest = IncrementalDigest(.sha256)
            if file < hasher.files.count && hasher.files[file].length == 0 { finishFile() }
        }

        /// Reads `buffer.count` bytes of the content at `offset` from the staged files. A file that cannot be opened
        /// or read is marked unreadable (its part of the buffer is left as it was). Where the memory, the file offset
        /// and the length line up (4 KiB), the read uses `O_DIRECT`: the engine wrote whole pieces that way, so they
        /// are on the disk, not in the page cache, and filling the page cache would cost more CPU than the SHA-256
        /// (see FileDigests); the kernel writes back any cached dirty pages of the range first.
        mutating func readBack(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) {
            var index = file
            var fileStart = offset - doneInFile
            var position = 0
            while position < buffer.count && index < hasher.files.count {
                let entry = hasher.files[index]
                let inFile = offset + Int64(position) - fileStart
                let take = Int(min(Int64(buffer.count - position), entry.length - inFile))
                if take > 0 && !read(index, into: buffer, range: position..<position + take, at: inFile) {
                    unreadable.insert(index)
                }
                position += max(take, 0)
                fileStart += entry.length
                index += 1
            }
        }

        private mutating func read(
            _ index: Int, into buffer: UnsafeMutableRawBufferPointer, range: Range<Int>, at fileOffset: Int64
        ) -> Bool {
            var fds: (buffered: Int32, direct: Int32)
            if let cached = descriptors[index] {
                fds = cached
            } else {
                let path = hasher.directory + "/" + hasher.files[index].path
                let flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW
                fds.buffered = open(path, flags)
                guard fds.buffered >= 0 else { return false }
                fds.direct = DirectIO.flag == 0 ? -1 : open(path, flags | DirectIO.flag)
                descriptors[index] = fds
            }
            let fd = fds.buffered
            var done = 0
            let alignment = DirectIO.alignment
            let address = Int(bitPattern: buffer.baseAddress! + range.lowerBound)
            if fds.direct >= 0 && address % alignment == 0 && fileOffset % Int64(alignment) == 0 {
                let aligned = range.count / alignment * alignment
                while done < aligned {
                    let start = buffer.baseAddress! + range.lowerBound + done
                    let n = pread(fds.direct, start, aligned - done, off_t(fileOffset) + off_t(done))
                    if n < 0 && errno == EINTR { continue }
                    if n < 0 && errno == EINVAL {
                        // The file system does not do direct I/O after all: ordinary reads from now on.
                        close(fds.direct)
                        descriptors[index]?.direct = -1
                    }
                    guard n > 0 else { break }
                    done += n
                    if n % alignment != 0 { break }
                }
            }
            while done < range.count {
                let start = buffer.baseAddress! + range.lowerBound + done
                let n = pread(fd, start, range.count - done, off_t(fileOffset) + off_t(done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                done += n
            }
            return true
        }

        func closeFiles() {
            for fds in descriptors.values { Self.closeAll(fds) }
        }

        private static func closeAll(_ fds: (buffered: Int32, direct: Int32)) {
            close(fds.buffered)
            if fds.direct >= 0 { close(fds.direct) }
        }
    }
}
