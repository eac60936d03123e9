import DatasetCatalog
import Foundation

extension DatasetAudit {
    /// The JSON report (schema in the README): snake_case keys, `null` for undefined values.
    public var json: JSONValue {
        func optional(_ x: Double?) -> JSONValue { .optional(x) }
        let attributeFields: [(String, JSONValue)] = attributes.map { a in
            (a.name, .object([
                ("rows", .int(a.rows)),
                ("missing", .int(a.missing)),
                ("total_weight", .number(a.total)),
                ("effective_size", .number(a.effectiveSize)),
                ("groups", .array(a.groups.map { g in
                    .object([("value", .string(g.value)), ("count", .number(g.count)), ("rows", .int(g.rows)), ("share", .number(g.share)),
                             ("wilson_low", .number(g.wilsonLow)), ("wilson_high", .number(g.wilsonHigh))])
                })),
                ("cells", .array(a.cells.map { c in
                    .object([("label", .string(c.label)), ("value", .string(c.value)), ("count", .number(c.count)), ("rows", .int(c.rows)),
                             ("share", .number(c.share)), ("wilson_low", .number(c.wilsonLow)), ("wilson_high", .number(c.wilsonHigh)),
                             ("share_of_label", .number(c.shareOfLabel)), ("label_rate", .number(c.labelRate))])
                })),
                ("empty_cells", .array(a.emptyCells.map { .object([("label", .string($0.label)), ("value", .string($0.value))]) })),
                ("representation_ratio", optional(a.representationRatio)),
                ("imbalance_ratio", optional(a.imbalanceRatio)),
                ("chi2", optional(a.chi2)),
                ("dof", a.dof.map { .int($0) } ?? .null),
                ("p_value", optional(a.pValue)),
                ("cramers_v", optional(a.cramersV)),
                ("cramers_v_corrected", optional(a.cramersVCorrected)),
                ("mutual_information_nats", optional(a.mutualInformation)),
                ("mutual_information_normalized", optional(a.mutualInformationNormalized)),
                ("statistical_parity_difference", optional(a.statisticalParityDifference)),
                ("disparate_impact", optional(a.disparateImpact)),
                ("smoothed_edf", optional(a.smoothedEDF)),
                ("per_label", .array(a.perLabel.map { p in
                    .object([("label", .string(p.label)), ("statistical_parity_difference", .number(p.statisticalParityDifference)),
                             ("disparate_impact", optional(p.disparateImpact))])
                })),
                ("reweighing", .array(a.reweighing.map { .object([("label", .string($0.label ?? "")), ("value", .string($0.value)), ("weight", .number($0.weight))]) })),
                ("group_balanced", .array(a.groupBalanced.map { .object([("value", .string($0.value)), ("weight", .number($0.weight))]) })),
            ]))
        }
        var fields: [(String, JSONValue)] = [
            ("manifest", .string(manifestPath)),
            ("rows", .int(rows)),
            ("weighted", .bool(weighted)),
            ("label_column", .string(labelColumn)),
            ("labels", .array(labels.map { .object([("label", .string($0.label)), ("count", .number($0.count)), ("share", .number($0.share))]) })),
            ("attributes", .object(attributeFields)),
        ]
        if let images {
            fields.append(("images", .object([
                ("catalog", .string(images.catalog)),
                ("covered_rows", .int(images.covered)),
                ("uncovered_rows", .int(images.uncovered)),
                ("statistics", .array(ImageAudit.statisticNames.map { .string($0) })),
                ("attributes", .object(images.attributes.map { a in
                    (a.attribute, .object([
                        ("groups", .array(a.groups.map { g in
                            .object([("value", .string(g.value)), ("images", .int(g.images)),
                                     ("mean", .object(zip(ImageAudit.statisticNames, g.means).map { ($0, .number($1)) })),
                                     ("sd", .object(zip(ImageAudit.statisticNames, g.deviations).map { ($0, .number($1)) }))])
                        })),
                        ("largest_smd", .array(a.largestDifference.map { d in
                            .object([("statistic", .string(d.statistic)), ("smd", .number(d.smd)), ("groups", .array([.string(d.groups.0), .string(d.groups.1)]))])
                        })),
                    ]))
                })),
                ("real_vs_synthetic", images.separability.map { s in
                    .object([("real", .int(s.real)), ("synthetic", .int(s.synthetic)),
                             ("auc", .object(s.auc.map { ($0.statistic, .number($0.auc)) })),
                             ("nearest_centroid_balanced_accuracy", .number(s.balancedAccuracy))])
                } ?? .null),
                ("duplicate_groups", .int(images.duplicateClusters.count)),
                ("leaking_groups", .int(images.leakingClusters)),
                ("clusters", .array(images.duplicateClusters.map { c in
                    .object([("paths", .array(c.paths.map { .string($0) })), ("exact", .bool(c.exact)), ("splits", .array(c.splits.map { .string($0) }))])
                })),
            ])))
        } else {
            fields.append(("images", .null))
        }
        fields.append(("features", features?.json ?? .null))
        fields.append(("findings", .array(findings.map { f in
            .object([("severity", .string(f.severity.name)), ("kind", .string(f.kind)), ("attribute", f.attribute.map { .string($0) } ?? .null),
                     ("message", .string(f.message)), ("numbers", .object(f.numbers))])
        })))
        return .object(fields)
    }
}
