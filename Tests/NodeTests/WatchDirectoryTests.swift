import Foundation
import TestSupport
import Testing

@testable import Node

/// The watch directory scan: which files count, and what changed between two scans.
struct WatchDirectoryTests {
    @Test func scanListsTorrentFilesOnlyAndLeavesTheDirectoryAlone() throws {
        let root = try TestFiles.makeTemporaryDirectory("swt-watch")
        defer { TestFiles.cleanup(root) }
        let watch = root.path
        for name in ["a.torrent", "b.torrent", ".c.torrent.tmp", ".hidden.torrent", "notes.txt"] {
            try Data("x".utf8).write(to: root.appendingPathComponent(name))
        }
        try FileManager.default.createDirectory(atPath: "\(watch)/dir.torrent", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(watch)/link.torrent", withDestinationPath: "\(watch)/a.torrent")
        try FileManager.default.createSymbolicLink(atPath: "\(watch)/dangling.torrent", withDestinationPath: "\(watch)/none")
        let before = try FileManager.default.contentsOfDirectory(atPath: watch).sorted()

        let found = try WatchDirectory.scan(watch)
        #expect(found.keys.sorted() == ["a.torrent", "b.torrent", "link.torrent"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: watch).sorted() == before)
    }

    @Test func changesBetweenScans() throws {
        let root = try TestFiles.makeTemporaryDirectory("swt-watch")
        defer { TestFiles.cleanup(root) }
        for name in ["keep", "edit", "gone"] {
            try Data("x".utf8).write(to: root.appendingPathComponent("\(name).torrent"))
        }
        let first = try WatchDirectory.scan(root.path)
        try Data("longer".utf8).write(to: root.appendingPathComponent("edit.torrent"))
        try FileManager.default.removeItem(at: root.appendingPathComponent("gone.torrent"))
        try Data("x".utf8).write(to: root.appendingPathComponent("new.torrent"))
        let second = try WatchDirectory.scan(root.path)
        let changes = WatchDirectory.changes(from: first, to: second)
        #expect(changes == .init(added: ["new.torrent"], changed: ["edit.torrent"], removed: ["gone.torrent"]))
        #expect(WatchDirectory.changes(from: second, to: second) == .init())
    }

    @Test func aMissingDirectoryIsNamed() {
        #expect(throws: NodeError.self) { try WatchDirectory.scan("/nonexistent/swt-watch") }
        do {
            _ = try WatchDirectory.scan("/nonexistent/swt-watch")
        } catch {
            #expect(error.message.contains("watch directory /nonexistent/swt-watch cannot be listed"))
        }
    }
}
