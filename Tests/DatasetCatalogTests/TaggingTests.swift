import DatasetCatalog
import Foundation
import ImageCodecs
import Testing

@Suite("Tagging")
struct TaggingTests {
    func manifest(_ rows: [[String]], columns: [String]) -> Manifest {
        var m = Manifest(columns: columns, baseDirectory: "/data")
        for r in rows { m.append(cells: r) }
        return m
    }

    @Test("regex named captures over the path become columns; non-matching rows are reported")
    func regex() throws {
        let m = manifest([["faces/female/asian/1.jpg"], ["faces/male/white/2.jpg"], ["other/3.jpg"]], columns: ["path"])
        let (out, problems) = try Tagger().apply([.pathRegex("faces/(?<gender>[^/]+)/(?<race>[^/]+)/")], to: m)
        #expect(out.column("gender")! == ["female", "male", ""] && out.column("race")! == ["asian", "white", ""])
        #expect(problems == ["--regex: 1 path(s) do not match; their columns are empty"])
        #expect(throws: TagError.self) { try Tagger().apply([.pathRegex("(unclosed")], to: m) }
    }

    @Test("map, bins, combine and rule, parsed from their command-line forms")
    func derived() throws {
        let m = manifest([["a", "0", "19", "1"], ["b", "1", "19.5", "0"], ["c", "1", "20", "4"], ["d", "0", "75", "2"], ["e", "1", "", "3"], ["f", "0", "-1", "1"]],
                         columns: ["path", "gender", "age", "race"])
        let ops = try [
            TagOperation.parseMap("gender=gender:0=male,1=female"),
            TagOperation.parseMap("race=race:0=White,1=Black,2=Asian,3=Indian,4=Others"),
            TagOperation.parseBins("age_band=age:0-19,20-39,40-59,60+"),
            TagOperation.parseCombine("gender_race=gender+race"),
            TagOperation.parseRule("older_woman=gender == female && age_band in {40-59, 60+} || race == 'Others'"),
            TagOperation.parseRule("adult=!(age < 18)"),
        ]
        let (out, problems) = try Tagger().apply(ops, to: m)
        #expect(out.column("gender")! == ["male", "female", "female", "male", "female", "male"])
        #expect(out.column("age_band")! == ["0-19", "0-19", "20-39", "60+", "", ""])  // 19.5 lies below the next band
        #expect(out.column("gender_race")! == ["male/Black", "female/White", "female/Others", "male/Asian", "female/Indian", "male/Black"])
        // && binds tighter than ||; row e is (true && unknown) || false: unknown
        #expect(out.column("older_woman")! == ["no", "no", "yes", "no", "", "no"])
        #expect(out.column("adult")! == ["yes", "yes", "yes", "yes", "", "no"])  // unknown age: unknown; -1 < 18
        let (kleene, _) = try Tagger().apply([try TagOperation.parseRule("k=age > 50 && gender == 1"), try TagOperation.parseRule("o=age > 50 || gender == 1")], to: m)
        #expect(kleene.column("k")! == ["no", "no", "no", "no", "", "no"])   // row e: unknown && true
        #expect(kleene.column("o")! == ["no", "yes", "yes", "yes", "yes", "no"])  // row e: unknown || true
        #expect(problems == ["--bins age_band: 1 value(s) of age fall in no band; left empty"])
    }

    @Test("malformed operations are clear errors", arguments: ["age_band=age", "=age:0-1", "x=age:10-5", "x=age:abc"])
    func badBins(_ text: String) {
        #expect(throws: TagError.self) { try TagOperation.parseBins(text) }
    }

    @Test("rules: syntax errors name what was expected")
    func ruleErrors() {
        #expect(throws: RuleExpression.ParseError(message: "expected a comparison after 'age', found 'female' in rule 'age female'")) {
            try RuleExpression.parse("age female")
        }
        #expect(throws: RuleExpression.ParseError.self) { try RuleExpression.parse("(a == b") }
        #expect(throws: RuleExpression.ParseError.self) { try RuleExpression.parse("a in {b, c") }
        #expect(throws: TagError.self) { try Tagger().apply([try TagOperation.parseRule("x=nope == 1")], to: manifest([["a"]], columns: ["path"])) }
    }

    @Test("pixel tags: brightness, colourfulness, hue, size and aspect from decoded images")
    func pixels() throws {
        let dir = try TempDir()
        try dir.png("red.png", width: 100, height: 40, fill: [255, 0, 0, 255])
        try dir.png("white.png", width: 8, height: 8, fill: [255, 255, 255, 255])
        try dir.png("checker.png", width: 600, height: 900, pattern: { x, y in (x + y) % 2 == 0 ? [255, 0, 0, 255] : [0, 255, 0, 255] })
        try dir.write("broken.png", "not an image")
        var m = Manifest(columns: ["path"], baseDirectory: dir.path)
        for p in ["red.png", "white.png", "checker.png", "broken.png"] { m.append(cells: [p]) }
        let (out, problems) = try Tagger().apply([.pixels(TagOperation.pixelTags)], to: m)
        #expect(out.column("brightness")! == ["dark", "bright", "mid", ""])  // red luma 76.2; checker (76.2 + 149.7) / 2
        #expect(out.column("colourfulness")! == ["high", "low", "high", ""])  // red 85.5 (statistics test), checker 293.25
        #expect(out.column("hue")! == ["red", "none", "red", ""])  // ties go to the first bin
        #expect(out.column("size")! == ["medium", "small", "large", ""])
        #expect(out.column("aspect")! == ["landscape", "square", "portrait", ""])
        #expect(problems.count == 1 && problems[0].contains("broken.png"))
    }

    @Test("image statistics equal hand-computed values")
    func statistics() {
        let checker = Image(width: 2, height: 1, pixels: [255, 0, 0, 255, 0, 255, 0, 255])
        let s = ImageStatistics(checker)
        // rg = +-255: mean 0, sd 255; yb = 127.5 both: mean 127.5, sd 0. M = 255 + 0.3 * 127.5
        #expect(abs(s.colourfulness - 293.25) < 1e-9)
        #expect(abs(s.brightness - (0.299 * 255 + 0.587 * 255) / 2) < 1e-9)
        #expect(s.meanR == 127.5 && s.meanG == 127.5 && s.meanB == 0)
        let grey = ImageStatistics(Image(width: 3, height: 3, fill: [90, 90, 90, 255]))
        #expect(grey.colourfulness == 0 && grey.dominantHue == "none" && abs(grey.brightness - 90) < 1e-9)
        let red = ImageStatistics(Image(width: 1, height: 1, fill: [255, 0, 0, 255]))
        #expect(abs(red.colourfulness - 0.3 * (255.0 * 255 + 127.5 * 127.5).squareRoot()) < 1e-9)  // 85.5
        #expect(ImageStatistics(Image(width: 1, height: 1, fill: [0, 0, 255, 255])).dominantHue == "blue")
        #expect(ImageStatistics(Image(width: 1, height: 1, fill: [255, 255, 0, 255])).dominantHue == "yellow")
    }
}
