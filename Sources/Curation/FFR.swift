import DatasetCatalog
import Foundation

extension Strategies {
    public enum Stage2: String, CaseIterable, Sendable { case asIs = "as-is", balanced, reweighted }

    /// From Fake to Real (Qraitem et al. 2023): stage 1, a group-balanced synthetic set (every
    /// --by cell of the synthetic rows cut to the smallest); stage 2, the real rows as they are,
    /// balanced the same way, or reweighted (group-balanced weights). Synthetic rows come from
    /// the input (origin = synthetic) or from `pool`.
    public static func ffr(_ m: Manifest, by: [String], pool: (Manifest, String)?, stage2: Stage2, seed: UInt64, file: String)
        throws -> (stage1: CurationResult, stage2: CurationResult) {
        let origins = m.origins
        let realRows = (0..<m.count).filter { origins[$0] == "real" }
        let synthetic: Manifest
        let syntheticFile: String
        var poolNote: String?
        if let (p, pf) = pool {
            let po = p.origins
            synthetic = p.selecting((0..<p.count).filter { po[$0] == "synthetic" })
            syntheticFile = pf
            poolNote = unusedPoolRows(pf, origins: po)
        } else {
            synthetic = m.selecting((0..<m.count).filter { origins[$0] == "synthetic" })
            syntheticFile = file
        }
        guard synthetic.count > 0 else {
            throw CurationError("\(syntheticFile): no rows with origin=synthetic for stage 1" + (pool == nil ? " (give a --pool of synthetic images)" : ""))
        }
        guard !realRows.isEmpty else { throw CurationError("\(file): no real rows for stage 2") }
        var stage1 = try undersample(synthetic, cells: Cells(synthetic, by: by, file: syntheticFile), perCell: nil, seed: seed)
        if let poolNote { stage1.warnings.insert(poolNote, at: 0) }
        let real = m.selecting(realRows)
        let realCells = try Cells(real, by: by, file: file)
        // Stage 1 teaches the groups of stage 2: a synthetic cell no real row has is a class or
        // group the model would learn for nothing; a real cell without synthetic rows is unbalanced.
        let syntheticCells = Set(stage1.cellNames), realNames = Set(realCells.names)
        let foreign = syntheticCells.subtracting(realNames).sorted()
        if !foreign.isEmpty {
            stage1.warnings.append("stage 1 has cells no real row has: \(foreign.prefix(4).joined(separator: ", "))\(foreign.count > 4 ? ", ..." : "")")
        }
        if let labels = stage1.manifest.column("label"), Set(labels).count < 2 {
            throw CurationError("\(syntheticFile): stage 1 would hold \(Set(labels).count) label value(s); training needs at least 2")
        }
        let uncovered = realNames.subtracting(syntheticCells).sorted()
        if !uncovered.isEmpty {
            stage1.warnings.append("stage 1 covers \(syntheticCells.count) of the \(realNames.count) real cells; none for \(uncovered.prefix(4).joined(separator: ", "))\(uncovered.count > 4 ? ", ..." : "")")
        }
        var second: CurationResult
        switch stage2 {
        // As is: the real rows, numbered (as the other two number them) by their place among the
        // real rows, which the mapping below turns into the input's rows.
        case .asIs: second = CurationResult(manifest: real.selecting(Array(0..<real.count)), cellNames: realCells.names, before: realCells.sizes, after: realCells.sizes,
                                            parameters: [], asked: [], achieved: [], warnings: [])
        case .balanced: second = try undersample(real, cells: realCells, perCell: nil, seed: seed &+ 1)
        case .reweighted: second = try reweight(real, cells: realCells, method: .groupBalanced, labelColumn: "label")
        }
        // source_row must name the input manifest's rows, not the intermediate selection's.
        if pool == nil {
            let synthRows = (0..<m.count).filter { origins[$0] == "synthetic" }
            stage1.manifest.setColumn("source_row", stage1.manifest.column("source_row")!.map { String(synthRows[Int($0)!]) })
        }
        second.manifest.setColumn("source_row", second.manifest.column("source_row")!.map { String(realRows[Int($0)!]) })
        return (stage1, second)
    }
}
