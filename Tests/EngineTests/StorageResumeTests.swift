import Engine
import Foundation
import NIOCore
import PeerWire
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct StorageResumeTests {
    /// Downloads the fixture into `directory`, verifies it, saves resume data.
    func completeDownload(into directory: URL, resume: String) async throws -> MultiFileFixture {
        let fixture = try MultiFileFixture()
        let storage = try await Storage(layout: fixture.layout, directory: directory.path, logger: quietLogger)
        try await fixture.writeAll(storage)
        for piece in 0..<fixture.layout.pieceCount { #expect(try await storage.verify(piece: piece)) }
        try await storage.saveResume(to: resume)
        return fixture
    }

    @Test func resumeRoundTripTrustsMatchingFilesWithoutHashing() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("resume")
        defer { TestFiles.cleanup(directory) }
        let resume = directory.path + "/t.resume"
        let fixture = try await completeDownload(into: directory, resume: resume)
        #expect(!FileManager.default.fileExists(atPath: resume + ".tmp"))
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: resume)))
        #expect(bytes.starts(with: Array("d5:filesl".utf8)))

        let again = try await Storage(layout: fixture.layout, directory: directory.path, logger: quietLogger)
        let calls = ProgressLog()
        let have = try await again.checkExisting(resume: resume) { done, total in calls.record(done, total) }
        #expect(have.isComplete)
        #expect(again.isComplete)
        #expect(calls.last == nil, "trusted resume data must not hash")
        let check = try #require(again.lastCheck)
        #expect(check.usedResume && check.resumeRejection == nil && check.piecesHashed == 0 && check.bytesHashed == 0)
    }

    @Test func partialResumeRecordsOnlyVerifiedPieces() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("resume")
        defer { TestFiles.cleanup(directory) }
        let resume = directory.path + "/t.resume"
        let fixture = try MultiFileFixture()
        let storage = try await Storage(layout: fixture.layout, directory: directory.path, logger: quietLogger)
        try await fixture.writeAll(storage)
        #expect(try await storage.verify(piece: 1))
        try await storage.saveResume(to: resume)
        let again = try await Storage(layout: fixture.layout, directory: directory.path, logger: quietLogger)
        #expect(try await again.checkExisting(resume: resume).setIndices == [1])
    }

    static let changes: [String] = ["mtime", "size", "other torrent", "garbage", "truncated"]

    @Test(arguments: changes)
    func resumeIsRejectedWhenTheFilesChanged(change: String) async throws {
        let directory = try TestFiles.makeTemporaryDirectory("resume")
        defer { TestFiles.cleanup(directory) }
        let resume = directory.path + "/t.resume"
        var fixture = try await completeDownload(into: directory, resume: resume)
        let victim = directory.path + "/t/sub/b.bin"
        switch change {
        case "mtime":
            // Same bytes except one, an older modification time: only hashing can tell.
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: victim))
            try handle.seek(toOffset: 10)
            try handle.write(contentsOf: Data([fixture.content[5010] ^ 1]))
            try handle.close()
            var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, victim, &times, 0) == 0)
        case "size":
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: victim))
            try handle.truncate(atOffset: 6000)
            try handle.close()
        case "other torrent":
            fixture = try MultiFileFixture(infoHash: Array(repeating: 9, count: 20))
        case "garbage":
            try Data("d6:format16:swtorrent-resumee".utf8).write(to: URL(fileURLWithPath: resume))
        default:
            let bytes = try Data(contentsOf: URL(fileURLWithPath: resume))
            try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: resume))
        }
        let again = try await Storage(
            layout: fixture.layout,
            directory: directory.path,
            mode: .readOnly,
            logger: quietLogger
        )
        let calls = ProgressLog()
        let have = try await again.checkExisting(resume: resume) { done, total in calls.record(done, total) }
        #expect(calls.last == [3, 3], "the data must have been hashed")
        let check = try #require(again.lastCheck)
        #expect(!check.usedResume && check.piecesHashed == 3 && check.bytesHashed == fixture.layout.totalLength)
        #expect(check.resumeRejection != nil, "the reason the resume file was not used is kept for the report")
        switch change {
        case "mtime": #expect(have.setIndices == [0, 2])  // byte 5010 lies in piece 1
        case "size": #expect(have.setIndices == [0, 1])  // piece 2 needs b.bin past byte 6000
        default: #expect(have.isComplete)
        }
    }

    @Test func missingResumeFileMeansHashing() async throws {
        let directory = try TestFiles.makeTemporaryDirectory("resume")
        defer { TestFiles.cleanup(directory) }
        let fixture = try await completeDownload(into: directory, resume: directory.path + "/t.resume")
        let again = try await Storage(layout: fixture.layout, directory: directory.path, logger: quietLogger)
        let calls = ProgressLog()
        let have = try await again.checkExisting(resume: directory.path + "/absent.resume") { calls.record($0, $1) }
        #expect(have.isComplete)
        #expect(calls.last == [3, 3])
    }
}
