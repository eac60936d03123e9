import DatasetCatalog
import Foundation
import ImageCodecs
import Testing

@Suite("Importers")
struct ImporterTests {
    @Test("imagefolder: one folder per class; extra levels become columns; wrong depths reported")
    func imageFolder() throws {
        let dir = try TempDir()
        try dir.png("data/train/cat/1.png"); try dir.png("data/train/dog/2.PNG"); try dir.png("data/test/cat/3.png")
        try dir.write("data/train/cat/notes.txt", "ignored")
        try dir.png("data/stray.png")
        let r = try Importers.imageFolder(dir.path + "/data", levels: ["split", "label"])
        #expect(r.manifest.column("path")! == ["test/cat/3.png", "train/cat/1.png", "train/dog/2.PNG"])
        #expect(r.manifest.column("split")! == ["test", "train", "train"])
        #expect(r.manifest.column("label")! == ["cat", "cat", "dog"])
        #expect(r.problems.count == 1 && r.problems[0].hasPrefix("stray.png"))
        let plain = try Importers.imageFolder(dir.path + "/data/train")
        #expect(plain.manifest.column("label")! == ["cat", "dog"] && plain.problems.isEmpty)
        let skip = try Importers.imageFolder(dir.path + "/data", levels: ["_", "label"])
        #expect(skip.manifest.columns == ["path", "label"])
        // Split folders as datasets spell them become the spec's values; others are reported, not written.
        try dir.png("named/training/cat/4.png"); try dir.png("named/validation/cat/5.png"); try dir.png("named/extra/cat/6.png")
        let named = try Importers.imageFolder(dir.path + "/named", levels: ["split", "label"])
        #expect(named.manifest.column("split")! == ["train", "val"])
        #expect(named.problems == ["extra/cat/6.png: split folder 'extra' is not train, val or test; skipped"])
        for reserved in ["path", "weight", "source_row"] {
            #expect(throws: ManifestError.self) { try Importers.imageFolder(dir.path + "/data", levels: ["split", reserved]) }
        }
    }

    @Test("CelebA: 1/-1 become yes/no, partitions become splits, counts are checked")
    func celebA() throws {
        let dir = try TempDir()
        try dir.write("list_attr_celeba.txt", "3\n5_o_Clock_Shadow Blond_Hair Male \n000001.jpg -1  1 -1\n000002.jpg  1 -1  1\n000003.jpg -1 -1 -1\n")
        try dir.write("list_eval_partition.txt", "000001.jpg 0\n000002.jpg 1\n000003.jpg 2\n")
        let m = try Importers.celebA(dir.path).manifest
        #expect(m.column("path")! == ["img_celeba/000001.jpg", "img_celeba/000002.jpg", "img_celeba/000003.jpg"])
        #expect(m.column("Blond_Hair")! == ["yes", "no", "no"] && m.column("Male")! == ["no", "yes", "no"])
        #expect(m.column("split")! == ["train", "val", "test"])
        try dir.write("list_attr_celeba.txt", "3\nBlond_Hair Male\n000001.jpg -1 1\n000002.jpg 1 0\n000003.jpg 1 1\n")
        let e = try #require(manifestError { _ = try Importers.celebA(dir.path) })
        #expect(e.line == 4 && e.message.contains("Male is '0'"))
        try dir.write("list_attr_celeba.txt", "4\nBlond_Hair Male\n000001.jpg -1 1\n")
        #expect(manifestError { _ = try Importers.celebA(dir.path) }?.message.contains("declares 4 images") == true)
        // Attribute names that would make two columns of one name, or overwrite the manifest's own.
        try dir.write("list_attr_celeba.txt", "1\nMale Smiling Male\n000001.jpg -1 1 1\n")
        let twice = try #require(manifestError { _ = try Importers.celebA(dir.path) })
        #expect(twice.line == 2 && twice.message.contains("attribute 'Male' appears twice"))
        try dir.write("list_attr_celeba.txt", "1\nsplit Male\n000001.jpg -1 1\n")
        #expect(manifestError { _ = try Importers.celebA(dir.path) }?.message.contains("attribute 'split' has the name of a column the manifest reserves") == true)
    }

    @Test("Waterbirds: y is the bird, place an attribute, split 0/1/2")
    func waterbirds() throws {
        let dir = try TempDir()
        try dir.write("metadata.csv", "img_id,img_filename,y,split,place,place_filename\n1,001.Black_footed_Albatross/a.jpg,1,0,0,/o/ocean/1.jpg\n2,002.Laysan/b.jpg,0,2,1,/b/bamboo/2.jpg\n")
        let m = try Importers.waterbirds(dir.path).manifest
        #expect(m.column("label")! == ["waterbird", "landbird"])
        #expect(m.column("place")! == ["land", "water"] && m.column("split")! == ["train", "test"])
        try dir.write("metadata.csv", "img_id,img_filename,y,split,place\n1,a.jpg,2,0,0\n")
        #expect(manifestError { _ = try Importers.waterbirds(dir.path) }?.description.contains("metadata.csv:2: y is '2'") == true)
        try dir.write("metadata.csv", "img_id,img_filename,y,split,place\n1,,1,0,0\n")
        #expect(manifestError { _ = try Importers.waterbirds(dir.path) }?.description.contains("metadata.csv:2: img_filename is empty") == true)
        try dir.write("metadata.csv", "img_id,img_filename,y,split,place\n")
        #expect(manifestError { _ = try Importers.waterbirds(dir.path) }?.message.contains("no rows") == true)
        try dir.write("metadata.csv", "img_id,img_filename,y,split,place,place\n1,a.jpg,1,0,0,1\n")
        #expect(manifestError { _ = try Importers.waterbirds(dir.path) }?.message.contains("column 'place' appears twice") == true)
    }

    @Test("UTKFace: codes mapped to the documented names; malformed names reported, not guessed")
    func utkFace() throws {
        let dir = try TempDir()
        for name in ["25_1_2_20170116174525125.jpg.chip.jpg", "3_0_4_20161219140623097.jpg", "39_1_20170116174525125.jpg.chip.jpg",
                     "61_0_9_20170109150557335.jpg", "x_0_0_2017.jpg"] {
            try dir.write(name, Data([0xFF, 0xD8]))
        }
        let r = try Importers.utkFace(dir.path)
        #expect(r.manifest.column("path")! == ["25_1_2_20170116174525125.jpg.chip.jpg", "3_0_4_20161219140623097.jpg"])
        #expect(r.manifest.column("age")! == ["25", "3"])
        #expect(r.manifest.column("gender")! == ["female", "male"])
        #expect(r.manifest.column("race")! == ["Asian", "Others"])
        #expect(r.problems.count == 3)
        #expect(r.problems.contains { $0.hasPrefix("39_1_20170116174525125.jpg.chip.jpg") })
    }

    @Test("FairFace: the five columns, split from the folder")
    func fairFace() throws {
        let dir = try TempDir()
        let csv = try dir.write("fairface_label_val.csv", "file,age,gender,race,service_test\nval/1.jpg,3-9,Male,East Asian,False\nval/2.jpg,50-59,Female,Indian,True\n")
        let m = try Importers.fairFace(csv).manifest
        #expect(m.column("split")! == ["val", "val"] && m.column("race")! == ["East Asian", "Indian"])
        #expect(m.column("age")! == ["3-9", "50-59"] && m.column("service_test")! == ["False", "True"])
        let bad = try dir.write("x.csv", "file,age,gender\na.jpg,1,M\n")
        #expect(manifestError { _ = try Importers.fairFace(bad) }?.message.contains("missing required column 'race'") == true)
    }

    func idx(magic: [UInt8], dims: [Int], body: [UInt8]) -> Data {
        var b = magic
        for d in dims { b += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
        return Data(b + body)
    }

    @Test("IDX: images become grey PNGs whose pixels are the file's bytes; labels get class names")
    func idxFiles() throws {
        let dir = try TempDir()
        let pixels: [UInt8] = (0..<(3 * 2 * 3)).map { UInt8($0 * 13) }
        let images = try dir.write("imgs.idx", idx(magic: [0, 0, 8, 3], dims: [3, 2, 3], body: pixels))
        let labels = try dir.write("labs.idx", idx(magic: [0, 0, 8, 1], dims: [3], body: [2, 0, 1]))
        let r = try IDXImporter.importFiles(images: images, labels: labels, outDir: dir.path + "/out", classNames: ["a", "b", "c"], split: "train", threads: 2)
        #expect(r.manifest.column("label")! == ["c", "a", "b"] && r.manifest.column("split")! == ["train", "train", "train"])
        for i in 0..<3 {
            let decoded = try ImageDecoder().decode(contentsOf: r.manifest.resolvedPath(i))
            #expect(decoded.info.colorModel == "grey" && decoded.image.width == 3 && decoded.image.height == 2)
            #expect(stride(from: 0, to: 24, by: 4).map { decoded.image.pixels[$0] } == Array(pixels[(i * 6)..<(i * 6 + 6)]))
        }
        let short = try dir.write("short.idx", idx(magic: [0, 0, 8, 3], dims: [3, 2, 3], body: Array(pixels.prefix(10))))
        #expect(manifestError { _ = try IDXImporter.read(short) }?.message.contains("declares 3x2x3 = 18 bytes, the file holds 10") == true)
        let mismatched = try dir.write("two.idx", idx(magic: [0, 0, 8, 1], dims: [2], body: [0, 1]))
        #expect(manifestError { _ = try IDXImporter.importFiles(images: images, labels: mismatched, outDir: dir.path + "/o2", classNames: nil, split: nil) }?.message.contains("2 labels for 3 images") == true)
        #expect(manifestError { _ = try IDXImporter.importFiles(images: images, labels: labels, outDir: dir.path + "/o3", classNames: ["a"], split: nil) }?.message.contains("label 2 has no class name") == true)
        // Dimensions a damaged header declares: 32-bit counts whose product no file can hold, or images without pixels.
        let huge = try dir.write("huge.idx", idx(magic: [0, 0, 8, 3], dims: [5, 0xFFFF_FFFF, 0xFFFF_FFFF], body: Array(repeating: 0, count: 80)))
        #expect(manifestError { _ = try IDXImporter.read(huge) }?.message.contains("more bytes than a file can hold, the file holds 80") == true)
        let flat = try dir.write("flat.idx", idx(magic: [0, 0, 8, 3], dims: [3, 0, 4], body: []))
        #expect(manifestError { _ = try IDXImporter.importFiles(images: flat, labels: labels, outDir: dir.path + "/o4", classNames: nil, split: nil) }?.message.contains("0 rows x 4 columns") == true)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/o4"))
    }

    @Test("IDX on Fashion-MNIST (Debian's dataset-fashion-mnist, gzipped): labels and pixels match the files")
    func fashionMNIST() throws {
        let root = "/usr/share/datasets/fashion-mnist"
        try #require(FileManager.default.fileExists(atPath: root + "/t10k-images-idx3-ubyte.gz"), "make test installs dataset-fashion-mnist")
        let dir = try TempDir()
        let r = try IDXImporter.importFiles(images: root + "/t10k-images-idx3-ubyte.gz", labels: root + "/t10k-labels-idx1-ubyte.gz",
                                            outDir: dir.path, classNames: IDXImporter.presets["fashion-mnist"], split: "test", limit: 12)
        // The first twelve test labels of Fashion-MNIST: 9 2 1 1 6 1 4 6 5 7 4 5.
        let names = IDXImporter.presets["fashion-mnist"]!
        #expect(r.manifest.column("label")! == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5].map { names[$0] })
        let first = try ImageDecoder().decode(contentsOf: r.manifest.resolvedPath(0)).image
        #expect(first.width == 28 && first.height == 28)
        #expect(stride(from: 0, to: first.pixels.count, by: 4).reduce(0) { $0 + Int(first.pixels[$1]) } == 33456)  // sum of image 0's bytes
    }
}
