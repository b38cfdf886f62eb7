import Foundation
import TestSupport

/// Small file helpers on top of TestSupport's temporary directories.
enum TestFilesLite {
    static func temporaryDirectory() throws -> String { try TestFiles.makeTemporaryDirectory("metainfo").path }
    static func remove(_ path: String) { TestFiles.cleanup(URL(fileURLWithPath: path)) }
    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}
