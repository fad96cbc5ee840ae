import Foundation
import RuntimeAPI
import Testing
@testable import RuntimeDeploy

/// An app's `assets` folder: what the manifest accepts, what a deploy copies, the limits, and the
/// responses the app makes from it.
@Suite("App assets")
struct AssetFolderTests {
    static func folder(_ files: [String: String]) throws -> String {
        let root = NSTemporaryDirectory() + "assets-" + UUID().uuidString
        for (path, text) in files {
            let full = root + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: true, encoding: .utf8)
        }
        return root
    }

    @Test("the manifest field is a relative folder path")
    func manifestField() throws {
        let manifest = try AppManifest.parse(#"{"name": "web", "main": "W", "assets": "assets"}"#)
        #expect(manifest.assets == "assets")
        #expect(try AppManifest.parse(#"{"name": "web", "main": "W"}"#).assets == nil)
        for (text, expected) in [(#"{"name": "web", "main": "W", "assets": "/etc"}"#, "must be relative"),
                                 (#"{"name": "web", "main": "W", "assets": ["a"]}"#, "must be a folder path")] {
            #expect(throws: ManifestError.self) { try AppManifest.parse(text) }
            do { _ = try AppManifest.parse(text) } catch { #expect(error.description.contains(expected), "\(error)") }
        }
    }

    @Test("files are listed sorted with relative paths, hidden ones skipped, copied and loaded with types and validators")
    func copyAndLoad() throws {
        let source = try Self.folder(["templates/page.html": "<p>{{x}}</p>", "static/app.css": "body{}", "static/.swp": "junk",
                                      ".git/config": "no", "logo.svg": "<svg/>"])
        defer { try? FileManager.default.removeItem(atPath: source) }
        #expect(try AssetFolder.files(in: source).map(\.relative) == ["logo.svg", "static/app.css", "templates/page.html"])
        let copy = NSTemporaryDirectory() + "assets-copy-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try AssetFolder.copy(from: source, to: copy)
        let assets = try AssetFolder.load(from: copy)
        #expect(assets.files.count == 3)
        #expect(assets.text("templates/page.html") == "<p>{{x}}</p>")
        #expect(assets.file("static/app.css")?.contentType == "text/css; charset=utf-8")
        #expect(assets.file("logo.svg")?.contentType == "image/svg+xml")
        let etag = try #require(assets.file("static/app.css")?.etag)
        #expect(etag.hasPrefix("\"") && etag.hasSuffix("\"") && etag.count == 34)
        #expect(assets.file("logo.svg")?.etag != etag)
        #expect(try AssetFolder.load(from: copy + "/missing").files.isEmpty)
    }

    @Test("a missing folder and a file past the size limit are refused with the path named")
    func limits() throws {
        do {
            _ = try AssetFolder.files(in: "/nonexistent-\(UUID().uuidString)")
            Issue.record("a missing folder was accepted")
        } catch {
            #expect(error.description.contains("assets: no such folder"))
        }
        let big = try Self.folder(["big.bin": String(repeating: "x", count: AppManifest.Limits.maxAssetFileBytes + 1)])
        defer { try? FileManager.default.removeItem(atPath: big) }
        do {
            _ = try AssetFolder.files(in: big)
            Issue.record("an oversized file was accepted")
        } catch {
            #expect(error.description.contains("big.bin"))
            #expect(error.description.contains("at most \(AppManifest.Limits.maxAssetFileBytes) per file"))
        }
    }

    @Test("responses carry the type and ETag, answer 304 to a matching If-None-Match, and nil for unknown paths")
    func responses() throws {
        let file = AppAssets.File(bytes: Array("body{}".utf8), contentType: "text/css; charset=utf-8", etag: "\"abc\"")
        let assets = AppAssets(files: ["static/app.css": file])
        let fresh = try #require(assets.response("static/app.css", request: Request(path: "/static/app.css")))
        #expect(fresh.status == 200)
        #expect(fresh.headers["etag"] == "\"abc\"")
        #expect(fresh.headers["content-type"] == "text/css; charset=utf-8")
        let cached = try #require(assets.response("static/app.css", request: Request(path: "/x", headers: ["If-None-Match": "\"zzz\", \"abc\""])))
        #expect(cached.status == 304)
        let stale = try #require(assets.response("static/app.css", request: Request(path: "/x", headers: ["If-None-Match": "\"zzz\""])))
        #expect(stale.status == 200)
        #expect(assets.response("static/none.js", request: Request(path: "/x")) == nil)
        #expect(AppAssets.contentType(forPath: "a/b/README") == "application/octet-stream")
        #expect(AppAssets.contentType(forPath: "x.JS") == "text/javascript; charset=utf-8")
    }
}
