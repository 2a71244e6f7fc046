//! Model files. RON in two forms, told apart by their keys:
//! - the layer form (`layers: [...]`, a chain; `chain.rs`);
//! - the graph form (`populations: [...]`, `projections: [...]`, naming
//!   populations by name and the input as `"input"`).
//!
//! The binary `.ncm` (`ncm.rs`) holds the same model compactly. `load`
//! tells the formats apart by content, `save` by the file's extension.
//! RON files may leave out `Some(..)` around optional values (`delay: 1`).

use super::*;
use crate::error::{Error, Result};
use std::path::Path;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    name: String,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    timesteps: u32,
    semantics: Semantics,
    input: Input,
    readout: Readout,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    layers: Vec<Layer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    early_exit: Option<EarlyExit>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    populations: Vec<PopulationFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    projections: Vec<ProjectionFile>,
    /// The population read out; default the last one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    output: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PopulationFile {
    name: String,
    /// Neurons of a flat population.
    #[serde(default, skip_serializing_if = "is_zero_usize")]
    size: usize,
    /// Channels, height, width (instead of `size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shape: Option<(usize, usize, usize)>,
    neuron: Neuron,
    #[serde(default, skip_serializing_if = "is_zero")]
    lateral_inhibition: i32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectionFile {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    name: String,
    source: String,
    target: String,
    weight_bits: u8,
    #[serde(default, skip_serializing_if = "is_false")]
    full_range: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay: Option<u32>,
    kind: ConnFile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stdp: Option<Stdp>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum ConnFile {
    Dense {
        weights: Vec<i32>,
    },
    Sparse {
        /// (source, target, weight), any order.
        synapses: Vec<(u32, u32, i32)>,
    },
    Conv2d {
        in_ch: usize,
        out_ch: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        in_h: usize,
        in_w: usize,
        weights: Vec<i32>,
    },
    SumPool2d {
        k: usize,
    },
    OneToOne {
        weights: Vec<i32>,
    },
}

fn is_zero(x: &i32) -> bool {
    *x == 0
}
fn is_zero_usize(x: &usize) -> bool {
    *x == 0
}

/// The name a graph file gives the model's input.
pub const INPUT_NAME: &str = "input";

/// Magic bytes that open a binary model file.
pub const NCM_MAGIC: &[u8; 8] = b"NCMODEL\0";

/// Loads and checks a model file of any format.
pub fn load(path: &Path) -> Result<Model> {
    from_bytes(
        &path.display().to_string(),
        &crate::error::read_bytes(path)?,
    )
}

/// The checked model of a file's bytes, of any format; `name` names the
/// file in errors.
pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Model> {
    if bytes.starts_with(NCM_MAGIC) {
        let model = super::ncm::decode(name, bytes)?;
        model.validate(name)?;
        return Ok(model);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Parse {
        path: name.to_string(),
        line: 0,
        col: 0,
        msg: format!("not UTF-8 text nor a binary model file (.ncm): {e}"),
    })?;
    parse(name, text)
}

/// Writes a model, binary for a `.ncm` path and RON otherwise.
pub fn save(model: &Model, path: &Path) -> Result<()> {
    let bytes = if is_binary_path(path) {
        super::ncm::encode(model)
    } else {
        to_ron(model).into_bytes()
    };
    crate::error::write_atomic(path, &bytes)
}

/// Whether `path` names a binary model file (`.ncm`).
pub fn is_binary_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("ncm"))
}

/// Parses RON text of either form and checks it.
pub fn parse(file: &str, text: &str) -> Result<Model> {
    let f: ModelFile =
        crate::error::parse_ron_ext(file, text, ron::extensions::Extensions::IMPLICIT_SOME)?;
    from_file(file, f)
}

/// The model of a parsed file of either form, checked.
fn from_file(file: &str, f: ModelFile) -> Result<Model> {
    let graph = !f.populations.is_empty() || !f.projections.is_empty();
    match (f.layers.is_empty(), graph) {
        (false, false) => {
            let chain = Chain {
                name: f.name,
                metadata: f.metadata,
                timesteps: f.timesteps,
                semantics: f.semantics,
                input: f.input,
                readout: f.readout,
                layers: f.layers,
                early_exit: f.early_exit,
            };
            chain.validate(file)?;
            if !f.output.is_empty() {
                return Err(Error::invalid(
                    file,
                    "output",
                    &f.output,
                    "no `output` in the layer form (the last layer is read out)",
                ));
            }
            let model = chain.into_model();
            model.validate(file)?;
            Ok(model)
        }
        (true, true) => {
            let model = graph_of(file, f)?;
            model.validate(file)?;
            Ok(model)
        }
        (false, true) => Err(Error::invalid(
            file,
            "layers",
            "given with populations and projections",
            "either `layers` (a chain) or `populations` and `projections` (a graph)",
        )),
        (true, false) => Err(Error::invalid(
            file,
            "layers",
            "[]",
            "at least one layer, or `populations` and `projections` (a graph)",
        )),
    }
}

fn graph_of(file: &str, f: ModelFile) -> Result<Model> {
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut populations = Vec::with_capacity(f.populations.len());
    for (p, pf) in f.populations.iter().enumerate() {
        let at = |field: &str| format!("populations[{p}].{field}");
        if pf.name.is_empty() || pf.name == INPUT_NAME || index.insert(&pf.name, p).is_some() {
            return Err(Error::invalid(
                file,
                at("name"),
                format!("{:?}", pf.name),
                format!("a name of its own, not empty nor {INPUT_NAME:?}"),
            ));
        }
        let shape = match (pf.shape, pf.size) {
            (None, n) => Shape::flat(n),
            (Some((c, h, w)), n) => {
                let s = Shape { c, h, w };
                if n != 0 && Some(n) != s.checked_len() {
                    return Err(Error::invalid(
                        file,
                        at("size"),
                        n,
                        format!(
                            "channels x height x width of `shape` ({c} x {h} x {w}), or left out"
                        ),
                    ));
                }
                s
            }
        };
        populations.push(Population {
            name: pf.name.clone(),
            shape,
            neuron: pf.neuron.clone(),
            lateral_inhibition: pf.lateral_inhibition,
        });
    }
    let find = |field: String, name: &str, input_ok: bool| -> Result<Source> {
        if input_ok && name == INPUT_NAME {
            return Ok(Source::Input);
        }
        index
            .get(name)
            .map(|p| Source::Population(*p))
            .ok_or_else(|| {
                Error::invalid(
                    file,
                    field,
                    format!("{name:?}"),
                    format!(
                        "the name of a population{}",
                        if input_ok { " or \"input\"" } else { "" }
                    ),
                )
            })
    };
    let mut projections = Vec::with_capacity(f.projections.len());
    for (j, pf) in f.projections.into_iter().enumerate() {
        let source = find(format!("projections[{j}].source"), &pf.source, true)?;
        let Source::Population(target) =
            find(format!("projections[{j}].target"), &pf.target, false)?
        else {
            unreachable!("targets are populations")
        };
        let n_sources = match source {
            Source::Input => Some(f.input.size),
            Source::Population(p) => populations[p].shape.checked_len(),
        }
        .filter(|n| (1..=MAX_NEURONS).contains(n))
        .ok_or_else(|| {
            Error::invalid(
                file,
                format!("projections[{j}].source"),
                &pf.source,
                format!("a source of 1 ..= {MAX_NEURONS} neurons"),
            )
        })?;
        let conn = match pf.kind {
            ConnFile::Dense { weights } => Connectivity::Dense { weights },
            ConnFile::OneToOne { weights } => Connectivity::OneToOne { weights },
            ConnFile::SumPool2d { k } => Connectivity::SumPool2d { k },
            ConnFile::Conv2d {
                in_ch,
                out_ch,
                kernel,
                stride,
                padding,
                in_h,
                in_w,
                weights,
            } => Connectivity::Conv2d {
                conv: Conv2d {
                    in_ch,
                    out_ch,
                    kernel,
                    stride,
                    padding,
                    in_h,
                    in_w,
                },
                weights,
            },
            ConnFile::Sparse { synapses } => {
                if let Some((k, s)) = synapses
                    .iter()
                    .enumerate()
                    .find(|(_, s)| s.0 as usize >= n_sources)
                {
                    return Err(Error::invalid(
                        file,
                        format!("projections[{j}].kind.sparse.synapses[{k}]"),
                        format!("{s:?}"),
                        format!("a source below {n_sources} (the size of {})", pf.source),
                    ));
                }
                Connectivity::Sparse(Sparse::from_triples(n_sources, synapses))
            }
        };
        projections.push(Projection {
            name: pf.name,
            source,
            target,
            weight_bits: pf.weight_bits,
            full_range: pf.full_range,
            delay: pf.delay,
            conn,
            stdp: pf.stdp,
        });
    }
    let output = if f.output.is_empty() {
        populations.len().saturating_sub(1)
    } else {
        match find("output".into(), &f.output, false)? {
            Source::Population(p) => p,
            Source::Input => unreachable!("the input is not accepted here"),
        }
    };
    Ok(Model {
        name: f.name,
        metadata: f.metadata,
        timesteps: f.timesteps,
        semantics: f.semantics,
        input: f.input,
        readout: f.readout,
        early_exit: f.early_exit,
        populations,
        projections,
        output,
    })
}

/// RON text of a model: the layer form for a chain (as the trainer has
/// always written it), the graph form otherwise.
pub fn to_ron(model: &Model) -> String {
    let cfg = ron::ser::PrettyConfig::new()
        .depth_limit(3)
        .compact_arrays(true);
    if let Some(chain) = model.as_chain() {
        return ron::ser::to_string_pretty(&chain, cfg).expect("a model always serializes");
    }
    let cfg = cfg.extensions(ron::extensions::Extensions::IMPLICIT_SOME);
    ron::ser::to_string_pretty(&graph_file(model), cfg).expect("a model always serializes")
}

/// Models embedded in other documents (study states) serialize as a model
/// file would: the layer form for a chain, the graph form otherwise.
impl Serialize for Model {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.as_chain() {
            Some(chain) => chain.serialize(s),
            None => graph_file(self).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Model {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Model, D::Error> {
        let f = ModelFile::deserialize(d)?;
        from_file("embedded model", f).map_err(serde::de::Error::custom)
    }
}

fn graph_file(model: &Model) -> ModelFile {
    let name_of = |s: Source| match s {
        Source::Input => INPUT_NAME.to_string(),
        Source::Population(p) => model.populations[p].name.clone(),
    };
    ModelFile {
        name: model.name.clone(),
        metadata: model.metadata.clone(),
        timesteps: model.timesteps,
        semantics: model.semantics,
        input: model.input.clone(),
        readout: model.readout,
        layers: vec![],
        early_exit: model.early_exit,
        populations: model
            .populations
            .iter()
            .map(|p| {
                let flat = p.shape == Shape::flat(p.len());
                PopulationFile {
                    name: p.name.clone(),
                    size: if flat { p.len() } else { 0 },
                    shape: (!flat).then_some((p.shape.c, p.shape.h, p.shape.w)),
                    neuron: p.neuron.clone(),
                    lateral_inhibition: p.lateral_inhibition,
                }
            })
            .collect(),
        projections: model
            .projections
            .iter()
            .map(|j| ProjectionFile {
                name: j.name.clone(),
                source: name_of(j.source),
                target: name_of(Source::Population(j.target)),
                weight_bits: j.weight_bits,
                full_range: j.full_range,
                delay: j.delay,
                kind: match &j.conn {
                    Connectivity::Dense { weights } => ConnFile::Dense {
                        weights: weights.clone(),
                    },
                    Connectivity::OneToOne { weights } => ConnFile::OneToOne {
                        weights: weights.clone(),
                    },
                    Connectivity::SumPool2d { k } => ConnFile::SumPool2d { k: *k },
                    Connectivity::Conv2d { conv, weights } => ConnFile::Conv2d {
                        in_ch: conv.in_ch,
                        out_ch: conv.out_ch,
                        kernel: conv.kernel,
                        stride: conv.stride,
                        padding: conv.padding,
                        in_h: conv.in_h,
                        in_w: conv.in_w,
                        weights: weights.clone(),
                    },
                    Connectivity::Sparse(s) => {
                        let mut synapses = Vec::with_capacity(s.len());
                        for i in 0..s.n_sources() {
                            let (t, w) = s.row(i);
                            synapses.extend(t.iter().zip(w).map(|(t, w)| (i as u32, *t, *w)));
                        }
                        ConnFile::Sparse { synapses }
                    }
                },
                stdp: j.stdp,
            })
            .collect(),
        output: if model.output + 1 == model.populations.len() {
            String::new()
        } else {
            model.populations[model.output].name.clone()
        },
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: &str = r#"(
        name: "rec",
        timesteps: 4,
        semantics: layer_serial,
        input: (size: 3, encoding: spikes),
        readout: spike_count,
        populations: [
            (name: "h", size: 2, neuron: (threshold: 1)),
            (name: "o", size: 2, neuron: (threshold: 0, dv: 0)),
        ],
        projections: [
            (source: "input", target: "h", weight_bits: 2, kind: dense(weights: [1, 0, 1, 0, 1, -1])),
            (source: "h", target: "h", weight_bits: 4, delay: 1, kind: sparse(synapses: [(1, 0, 3), (0, 1, 0)])),
            (source: "h", target: "o", weight_bits: 4, kind: one_to_one(weights: [2, 1])),
            (source: "input", target: "o", weight_bits: 4, delay: 2, kind: sparse(synapses: [(2, 1, -1)])),
        ],
    )"#;

    #[test]
    fn graph_form_parses_writes_and_reads_back() {
        let m = parse("g.ron", GRAPH).unwrap();
        assert_eq!(m.populations.len(), 2);
        assert_eq!(m.projections[1].delay, Some(1));
        assert_eq!(m.projections[1].source, Source::Population(0));
        assert_eq!(m.output, 1);
        assert_eq!(m.n_synapses(), 4 + 2 + 2 + 1);
        assert!(m.as_chain().is_none());
        let text = to_ron(&m);
        assert!(
            text.contains("delay: 1") && !text.contains("Some("),
            "{text}"
        );
        assert_eq!(parse("back.ron", &text).unwrap(), m);
    }

    #[test]
    fn explicit_some_still_reads() {
        let text = GRAPH.replace("delay: 1", "delay: Some(1)");
        assert_eq!(parse("g.ron", &text).unwrap().projections[1].delay, Some(1));
        let chain = include_str!("../../../models/tiny.ron").replace(
            "readout: spike_count,",
            "readout: spike_count, early_exit: Some((patience: 2)),",
        );
        assert_eq!(
            parse("t.ron", &chain).unwrap().early_exit.unwrap().patience,
            2
        );
    }

    #[test]
    fn a_chain_is_written_in_the_layer_form_unchanged() {
        let text = include_str!("../../../models/mnist-mlp.ron");
        let m = parse("mlp.ron", text).unwrap();
        assert_eq!(to_ron(&m), text.trim_end());
    }

    #[test]
    fn bad_graphs_name_what_is_wrong() {
        let err = |from: &str, to: &str| {
            parse("g.ron", &GRAPH.replace(from, to))
                .unwrap_err()
                .to_string()
        };
        let e = err(
            "target: \"h\", weight_bits: 4, delay: 1",
            "target: \"x\", weight_bits: 4, delay: 1",
        );
        assert!(
            e.contains("projections[1].target") && e.contains("\"x\""),
            "{e}"
        );
        let e = err("delay: 1,", "delay: 0,");
        assert!(e.contains("h -> h") && e.contains("projections[1]"), "{e}");
        let e = err("(1, 0, 3)", "(1, 5, 3)");
        assert!(
            e.contains("projections[1].kind.sparse.synapses") && e.contains("below 2"),
            "{e}"
        );
        let e = err("(2, 1, -1)", "(7, 1, -1)");
        assert!(e.contains("a source below 3"), "{e}");
        let e = err("(0, 1, 0)", "(1, 0, 2)");
        assert!(e.contains("one synapse per (source, target) pair"), "{e}");
        let e = err("name: \"o\"", "name: \"h\"");
        assert!(e.contains("populations[1].name"), "{e}");
        let e = err("weights: [2, 1]", "weights: [2, 1, 1]");
        assert!(e.contains("projections[2].kind.one_to_one.weights"), "{e}");
    }

    #[test]
    fn the_documented_graph_example_loads() {
        let doc = include_str!("../../../docs/model-format.md");
        let start = doc
            .find("```ron\n(\n    name: \"recurrent\"")
            .expect("the example");
        let body = &doc[start + 7..];
        let text = &body[..body.find("```").unwrap()];
        let m = parse("docs/model-format.md", text).unwrap();
        assert_eq!(m.populations.len(), 2);
        assert_eq!(m.projections[1].delay, Some(2));
        assert!(m.as_chain().is_none());
    }

    #[test]
    fn both_forms_at_once_are_refused() {
        let text = GRAPH.replace(
            "populations: [",
            "layers: [(kind: sum_pool2d(k: 1), weight_bits: 1, neuron: (threshold: 0))], populations: [",
        );
        let e = parse("g.ron", &text).unwrap_err().to_string();
        assert!(e.contains("either `layers`"), "{e}");
    }
}
