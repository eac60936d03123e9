import Foundation
import ImageCodecs

/// What an importer made: the manifest (paths relative to `manifest.baseDirectory`) and the
/// problems it reported and skipped (malformed names, files at the wrong depth, ...).
public struct ImportResult: Sendable {
    public var manifest: Manifest
    public var problems: [String]
}

/// Importers for the common dataset layouts. Each returns a manifest in the spec's format.
public enum Importers {
    /// Extensions of the image files importers list.
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

    /// torchvision's ImageFolder: `DIR/<class>/<image>`. With more `levels`, each folder level
    /// becomes a column (`["split", "label"]` reads `DIR/train/cat/1.png`); `_` skips a level.
    public static func imageFolder(_ root: String, levels: [String] = ["label"]) throws -> ImportResult {
        let base = URL(fileURLWithPath: root).standardizedFileURL.path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: base, isDirectory: &isDir), isDir.boolValue else {
            throw ManifestError(file: root, "not a folder")
        }
        let named = levels.filter { $0 != "_" }
        if Set(named).count != named.count { throw ManifestError(file: root, "--levels names a column twice") }
        for bad in ["path", "weight", "source_row"] where named.contains(bad) {
            throw ManifestError(file: root, "--levels cannot name '\(bad)': folder names are not \(bad == "path" ? "paths" : "numbers"); use another column name")
        }
        // Folder names for the spec's split values, as datasets commonly spell them.
        let splitNames = ["train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val", "test": "test", "testing": "test"]
        var manifest = Manifest(columns: ["path"] + named, baseDirectory: base)
        var problems: [String] = []
        let files = try listFiles(base)
        for rel in files {
            let ext = (rel as NSString).pathExtension.lowercased()
            guard imageExtensions.contains(ext) else {
                if ["gif", "bmp", "webp", "tif", "tiff", "heic"].contains(ext) { problems.append("\(rel): \(ext) images are not supported; skipped") }
                continue
            }
            let parts = rel.split(separator: "/").map(String.init)
            guard parts.count == levels.count + 1 else {
                problems.append("\(rel): expected \(levels.count) folder level(s) (\(levels.joined(separator: "/"))) above the image; skipped")
                continue
            }
            var row = ["path": rel]
            var bad: String? = nil
            for (name, value) in zip(levels, parts) where name != "_" {
                switch name {
                case "split":
                    guard let s = splitNames[value.lowercased()] else { bad = "split folder '\(value)' is not train, val or test"; break }
                    row[name] = s
                case "origin":
                    guard ["real", "synthetic"].contains(value) else { bad = "origin folder '\(value)' is not real or synthetic"; break }
                    row[name] = value
                default: row[name] = value
                }
            }
            if let bad { problems.append("\(rel): \(bad); skipped"); continue }
            manifest.append(row)
        }
        if manifest.count == 0 {
            // Say why: every image skipped (the first reason), or none at that depth at all.
            let skipped = problems.filter { $0.hasSuffix("; skipped") }
            throw ManifestError(file: root, skipped.isEmpty ? "no PNG or JPEG images at depth \(levels.count + 1)"
                                : "every image was skipped (\(skipped.count)), for example \(skipped[0].dropLast(9))")
        }
        return ImportResult(manifest: manifest, problems: problems)
    }

    /// CelebA: `list_attr_celeba.txt` (the 40 attributes as 1/-1, written yes/no) and
    /// `list_eval_partition.txt` (0/1/2 as train/val/test); images under `img_align_celeba/`.
    public static func celebA(_ root: String) throws -> ImportResult {
        let attrPath = root + "/list_attr_celeba.txt"
        let lines = try textLines(attrPath)
        guard lines.count >= 2, let declared = Int(lines[0].trimmingCharacters(in: .whitespaces)) else {
            throw ManifestError(file: attrPath, line: 1, "expected the image count on the first line")
        }
        let names = lines[1].split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard !names.isEmpty else { throw ManifestError(file: attrPath, line: 2, "expected the attribute names on the second line") }
        var seen = Set<String>()
        for n in names {
            guard !Manifest.reservedColumns.contains(n) else {
                throw ManifestError(file: attrPath, line: 2, "attribute '\(n)' has the name of a column the manifest reserves (\(Manifest.reservedColumns.sorted().joined(separator: ", ")))")
            }
            guard seen.insert(n).inserted else { throw ManifestError(file: attrPath, line: 2, "attribute '\(n)' appears twice") }
        }
        let imageDir = FileManager.default.fileExists(atPath: root + "/img_align_celeba") ? "img_align_celeba" : "img_celeba"
        var manifest = Manifest(columns: ["path", "split"] + names, baseDirectory: URL(fileURLWithPath: root).standardizedFileURL.path)
        var rowOf: [String: Int] = [:]
        for (i, line) in lines.enumerated().dropFirst(2) {
            let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if tokens.isEmpty { continue }
            guard tokens.count == names.count + 1 else {
                throw ManifestError(file: attrPath, line: i + 1, "expected a file name and \(names.count) values, found \(tokens.count) fields")
            }
            var cells = [imageDir + "/" + tokens[0], ""]
            for (k, t) in tokens.dropFirst().enumerated() {
                switch t {
                case "1": cells.append("yes")
                case "-1": cells.append("no")
                default: throw ManifestError(file: attrPath, line: i + 1, "\(names[k]) is '\(t)': expected 1 or -1")
                }
            }
            rowOf[tokens[0]] = manifest.count
            manifest.append(cells: cells)
        }
        guard manifest.count == declared else {
            throw ManifestError(file: attrPath, "the first line declares \(declared) images, the file lists \(manifest.count)")
        }
        var problems: [String] = []
        let partPath = root + "/list_eval_partition.txt"
        if FileManager.default.fileExists(atPath: partPath) {
            var split = manifest.column("split")!
            for (i, line) in try textLines(partPath).enumerated() {
                let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if tokens.isEmpty { continue }
                guard tokens.count == 2, let code = Int(tokens[1]), (0...2).contains(code) else {
                    throw ManifestError(file: partPath, line: i + 1, "expected a file name and 0, 1 or 2")
                }
                guard let r = rowOf[String(tokens[0])] else {
                    throw ManifestError(file: partPath, line: i + 1, "\(tokens[0]) is not in list_attr_celeba.txt")
                }
                split[r] = ["train", "val", "test"][code]
            }
            let missing = split.filter(\.isEmpty).count
            if missing > 0 { problems.append("\(partPath): \(missing) image(s) have no partition; their split is empty") }
            manifest.setColumn("split", split)
        } else {
            problems.append("\(partPath): missing; no split column")
            manifest.removeColumn("split")
        }
        return ImportResult(manifest: manifest, problems: problems)
    }

    /// Waterbirds: `metadata.csv` (img_filename, y, split, place); the bird type is the label
    /// (0 landbird, 1 waterbird), the place an attribute (0 land, 1 water), split 0/1/2 train/val/test.
    public static func waterbirds(_ root: String) throws -> ImportResult {
        let path = root + "/metadata.csv"
        let table = try ManifestReader.table(path, required: ["img_filename", "y", "split", "place"])
        let col = { (name: String) in table.header.firstIndex(of: name)! }
        let (f, y, s, p) = (col("img_filename"), col("y"), col("split"), col("place"))
        var manifest = Manifest(columns: ["path", "label", "split", "place"], baseDirectory: URL(fileURLWithPath: root).standardizedFileURL.path)
        guard !table.rows.isEmpty else { throw ManifestError(file: path, "no rows: a metadata.csv lists one image a row") }
        for (line, fields) in table.rows {
            guard !fields[f].isEmpty else { throw ManifestError(file: path, line: line, "img_filename is empty") }
            func code(_ c: Int, _ names: [String], _ what: String) throws -> String {
                guard let v = Int(fields[c]), names.indices.contains(v) else {
                    throw ManifestError(file: path, line: line, "\(what) is '\(fields[c])': expected 0 to \(names.count - 1)")
                }
                return names[v]
            }
            manifest.append(cells: [fields[f], try code(y, ["landbird", "waterbird"], "y"),
                                    try code(s, ["train", "val", "test"], "split"), try code(p, ["land", "water"], "place")])
        }
        return ImportResult(manifest: manifest, problems: [])
    }

    /// UTKFace's documented codes.
    public static let utkGenders = ["male", "female"]
    public static let utkRaces = ["White", "Black", "Asian", "Indian", "Others"]

    /// UTKFace: age, gender and race from `[age]_[gender]_[race]_[date&time].jpg` names. A name
    /// that does not follow the pattern is reported and skipped, never guessed.
    public static func utkFace(_ root: String) throws -> ImportResult {
        let base = URL(fileURLWithPath: root).standardizedFileURL.path
        var manifest = Manifest(columns: ["path", "age", "gender", "race"], baseDirectory: base)
        var problems: [String] = []
        for rel in try listFiles(base) {
            let name = (rel as NSString).lastPathComponent
            let ext = (name as NSString).pathExtension.lowercased()
            guard imageExtensions.contains(ext) else { continue }
            let parts = name.split(separator: "_", omittingEmptySubsequences: false)
            guard parts.count >= 4, let age = Int(parts[0]), (0...130).contains(age),
                  let g = Int(parts[1]), utkGenders.indices.contains(g),
                  let r = Int(parts[2]), utkRaces.indices.contains(r),
                  parts[3].first?.isNumber == true else {
                problems.append("\(rel): name is not [age]_[gender 0-1]_[race 0-4]_[date].jpg; skipped")
                continue
            }
            manifest.append(cells: [rel, String(age), utkGenders[g], utkRaces[r]])
        }
        if manifest.count == 0 { throw ManifestError(file: root, "no UTKFace images found") }
        return ImportResult(manifest: manifest, problems: problems)
    }

    /// FairFace: a label CSV with columns file, age, gender, race, service_test; the split comes
    /// from the file's folder (`train/1.jpg`) when it is train or val.
    public static func fairFace(_ csvPath: String) throws -> ImportResult {
        let table = try ManifestReader.table(csvPath, required: ["file", "age", "gender", "race", "service_test"])
        let idx = ["file", "age", "gender", "race", "service_test"].map { table.header.firstIndex(of: $0)! }
        let base = URL(fileURLWithPath: csvPath).deletingLastPathComponent().standardizedFileURL.path
        var manifest = Manifest(columns: ["path", "split", "age", "gender", "race", "service_test"], baseDirectory: base)
        for (line, fields) in table.rows {
            let file = fields[idx[0]]
            if file.isEmpty { throw ManifestError(file: csvPath, line: line, "empty file name") }
            let first = file.split(separator: "/").first.map(String.init) ?? ""
            let split = first == "train" || first == "val" ? first : ""
            manifest.append(cells: [file, split, fields[idx[1]], fields[idx[2]], fields[idx[3]], fields[idx[4]]])
        }
        if manifest.column("split")!.allSatisfy(\.isEmpty) { manifest.removeColumn("split") }
        return ImportResult(manifest: manifest, problems: [])
    }

    /// Every regular file below `root`, as sorted relative paths (hidden files skipped).
    static func listFiles(_ root: String) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { throw ManifestError(file: root, "cannot list the folder") }
        var out: [String] = []
        for case let rel as String in walker {
            if rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + rel, isDirectory: &isDir), !isDir.boolValue { out.append(rel) }
        }
        return out.sorted()
    }

    static func textLines(_ path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw ManifestError(file: path, "no such file") }
        guard let text = String(data: data, encoding: .utf8) else { throw ManifestError(file: path, "text is not valid UTF-8") }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
    }
}
