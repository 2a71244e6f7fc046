//! NIR, the interchange format of snnTorch, Norse, Lava-dl, Sinabs,
//! Rockpool and others: a graph of continuous-time nodes in an HDF5 file.
//! `file` reads and writes the HDF5 layout of the `nir` Python package,
//! `import` quantizes a graph onto the model IR (populations and
//! projections), `export` writes a model back as a graph. What each node
//! becomes, and what the file does not say (dt, the reset rule), is in
//! `docs/nir.md`.

pub mod export;
pub mod file;
pub mod import;

use std::collections::BTreeMap;

/// A NIR graph with nested subgraphs inlined (`sub.node` names), as
/// nirtorch writes them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    pub nodes: BTreeMap<String, Node>,
    /// Source and target node of every edge, in the file's order.
    pub edges: Vec<(String, String)>,
}

/// One node: its NIR type name and its fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: String,
    pub fields: BTreeMap<String, Tensor>,
}

/// A numeric field: shape (empty for a scalar) and values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl Tensor {
    pub fn scalar(v: f64) -> Tensor {
        Tensor {
            shape: vec![],
            data: vec![v],
        }
    }
    pub fn vector(data: Vec<f64>) -> Tensor {
        Tensor {
            shape: vec![data.len()],
            data,
        }
    }
    pub fn len(&self) -> usize {
        self.data.len()
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl Node {
    pub fn new(kind: &str) -> Node {
        Node {
            kind: kind.to_string(),
            fields: BTreeMap::new(),
        }
    }
    pub fn with(mut self, field: &str, t: Tensor) -> Node {
        self.fields.insert(field.to_string(), t);
        self
    }
}

/// The node types the importer understands; anything else is refused by
/// name.
pub const NODE_TYPES: &[&str] = &[
    "Input",
    "Output",
    "Affine",
    "Linear",
    "Scale",
    "Conv2d",
    "SumPool2d",
    "AvgPool2d",
    "Flatten",
    "Delay",
    "LIF",
    "IF",
    "CubaLIF",
    "LI",
    "I",
    "Threshold",
];
