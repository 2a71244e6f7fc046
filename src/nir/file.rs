//! The HDF5 layout of `nir.write` (nir 1.0.x): `/version`, and the graph
//! under `/node` with `type`, `edges` ((n, 2) strings) and one group per
//! node under `nodes/`, each with a `type` string and one dataset per
//! field. Subgraph nodes (`type = "NIRGraph"`) are inlined here with
//! `parent.child` names, their `Input`/`Output` nodes becoming pass-through
//! nodes, which is how nirtorch writes them too.

use super::{Graph, Node, Tensor};
use crate::error::{read_bytes_capped, write_atomic, Error, Result};
use hdf5_pure::{File, FileBuilder, GroupBuilder};
use std::path::Path;

/// Largest NIR file read (1 GiB).
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// Largest number of values in one dataset (2^28).
const MAX_VALUES: u64 = 1 << 28;
/// Deepest nesting of subgraphs.
const MAX_DEPTH: usize = 8;

/// The NIR version written by `export`.
pub const VERSION: &str = "1.0.8";

/// Reads a NIR file.
pub fn read(path: &Path) -> Result<Graph> {
    let name = path.display().to_string();
    let bytes = read_bytes_capped(path, MAX_FILE_BYTES)?;
    if !hdf5_pure::is_hdf5_bytes(&bytes) {
        return Err(Error::invalid(
            &name,
            "file",
            "not HDF5",
            "a NIR graph file (HDF5, as nir.write makes it)",
        ));
    }
    let file = File::from_bytes(bytes).map_err(|e| h5(&name, "/", e))?;
    let root = file.group("node").map_err(|e| h5(&name, "/node", e))?;
    let mut g = Graph::default();
    read_graph(&name, &root, "/node", "", &mut g, 0)?;
    Ok(g)
}

fn h5(file: &str, at: &str, e: hdf5_pure::Error) -> Error {
    Error::invalid(
        file,
        at,
        e,
        "a readable NIR graph (the HDF5 layout of nir.write)",
    )
}

fn string(file: &str, g: &hdf5_pure::Group, at: &str, field: &str) -> Result<String> {
    let path = format!("{at}/{field}");
    let ds = g.dataset(field).map_err(|e| h5(file, &path, e))?;
    let v = ds.read_string().map_err(|e| h5(file, &path, e))?;
    v.into_iter()
        .next()
        .ok_or_else(|| Error::invalid(file, path, "empty", "one string"))
}

/// Reads the graph group `grp` (at `at`) into `out`, naming its nodes
/// `prefix + name`.
fn read_graph(
    file: &str,
    grp: &hdf5_pure::Group,
    at: &str,
    prefix: &str,
    out: &mut Graph,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::invalid(
            file,
            at,
            "subgraphs nested deeper",
            format!("at most {MAX_DEPTH} levels of NIRGraph"),
        ));
    }
    let kind = string(file, grp, at, "type")?;
    if kind != "NIRGraph" {
        return Err(Error::invalid(file, format!("{at}/type"), kind, "NIRGraph"));
    }
    let edge_path = format!("{at}/edges");
    let ds = grp.dataset("edges").map_err(|e| h5(file, &edge_path, e))?;
    let shape = ds.shape().map_err(|e| h5(file, &edge_path, e))?;
    let n_edges = match shape.as_slice() {
        [n, 2] if *n <= MAX_VALUES => *n as usize,
        [0] | [] => 0,
        _ => {
            return Err(Error::invalid(
                file,
                edge_path,
                format!("shape {shape:?}"),
                "(n, 2) strings: source and target of each edge",
            ))
        }
    };
    let flat = if n_edges == 0 {
        vec![]
    } else {
        ds.read_string().map_err(|e| h5(file, &edge_path, e))?
    };
    let nodes_at = format!("{at}/nodes");
    let nodes = grp.group("nodes").map_err(|e| h5(file, &nodes_at, e))?;
    let names = nodes.groups().map_err(|e| h5(file, &nodes_at, e))?;
    // Edges into and out of a subgraph go to its Input and Output nodes.
    let mut inputs_of = std::collections::BTreeMap::new();
    let mut outputs_of = std::collections::BTreeMap::new();
    for name in &names {
        let node_at = format!("{nodes_at}/{name}");
        let ng = nodes.group(name).map_err(|e| h5(file, &node_at, e))?;
        let kind = string(file, &ng, &node_at, "type")?;
        let full = format!("{prefix}{name}");
        if kind == "NIRGraph" {
            let before: std::collections::BTreeSet<String> = out.nodes.keys().cloned().collect();
            read_graph(file, &ng, &node_at, &format!("{full}."), out, depth + 1)?;
            let (mut ins, mut outs) = (vec![], vec![]);
            for (k, n) in &mut out.nodes {
                if before.contains(k) || !k.starts_with(&format!("{full}.")) {
                    continue;
                }
                // An inner boundary node of the subgraph only passes values on.
                let depth_ok = !k[full.len() + 1..].contains('.');
                match n.kind.as_str() {
                    "Input" if depth_ok => {
                        n.kind = "Identity".into();
                        ins.push(k.clone());
                    }
                    "Output" if depth_ok => {
                        n.kind = "Identity".into();
                        outs.push(k.clone());
                    }
                    _ => {}
                }
            }
            inputs_of.insert(full.clone(), ins);
            outputs_of.insert(full, outs);
            continue;
        }
        let mut node = Node::new(&kind);
        for field in ng.datasets().map_err(|e| h5(file, &node_at, e))? {
            if field == "type" {
                continue;
            }
            let path = format!("{node_at}/{field}");
            let ds = ng.dataset(&field).map_err(|e| h5(file, &path, e))?;
            let dtype = ds.dtype().map_err(|e| h5(file, &path, e))?;
            use hdf5_pure::DType as D;
            if !matches!(
                dtype,
                D::F32
                    | D::F64
                    | D::I8
                    | D::I16
                    | D::I32
                    | D::I64
                    | D::U8
                    | D::U16
                    | D::U32
                    | D::U64
            ) {
                // Strings ("same" padding) and the like: kept out, and any
                // node that needs the field says so on import.
                continue;
            }
            let shape = ds.shape().map_err(|e| h5(file, &path, e))?;
            let n = shape.iter().try_fold(1u64, |a, d| a.checked_mul(*d));
            if n.is_none_or(|n| n > MAX_VALUES) {
                return Err(Error::invalid(
                    file,
                    path,
                    format!("shape {shape:?}"),
                    format!("at most {MAX_VALUES} values"),
                ));
            }
            let data = ds.read_f64().map_err(|e| h5(file, &path, e))?;
            node.fields.insert(
                field,
                Tensor {
                    shape: shape.iter().map(|d| *d as usize).collect(),
                    data,
                },
            );
        }
        out.nodes.insert(full, node);
    }
    for pair in flat.chunks_exact(2) {
        let (a, b) = (
            format!("{prefix}{}", pair[0]),
            format!("{prefix}{}", pair[1]),
        );
        let srcs = outputs_of.get(&a).cloned().unwrap_or_else(|| vec![a]);
        let dsts = inputs_of.get(&b).cloned().unwrap_or_else(|| vec![b]);
        for s in &srcs {
            for d in &dsts {
                out.edges.push((s.clone(), d.clone()));
            }
        }
    }
    Ok(())
}

/// Writes `g` as `nir.write` does (node names must not contain `/`):
/// numeric fields as float64 or int64 datasets, `type` as a string.
pub fn write(g: &Graph, path: &Path) -> Result<()> {
    let name = path.display().to_string();
    let mut b = FileBuilder::new();
    b.create_dataset("version")
        .with_vlen_strings(&[VERSION])
        .with_shape(&[]);
    let mut node = b.create_group("node");
    node.create_dataset("type")
        .with_vlen_strings(&["NIRGraph"])
        .with_shape(&[]);
    let flat: Vec<&str> = g
        .edges
        .iter()
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    node.create_dataset("edges")
        .with_vlen_strings(&flat)
        .with_shape(&[g.edges.len() as u64, 2]);
    let mut nodes = node.create_group("nodes");
    for (n, nd) in &g.nodes {
        let mut grp = nodes.create_group(n);
        write_node(&mut grp, nd);
        nodes.add_group(grp.finish());
    }
    node.add_group(nodes.finish());
    b.add_group(node.finish());
    let bytes = b
        .finish()
        .map_err(|e| Error::invalid(&name, "file", e, "a graph HDF5 can hold"))?;
    write_atomic(path, &bytes)
}

/// Fields nir reads as integers (shapes, strides, dims).
const INTEGER_FIELDS: &[&str] = &[
    "shape",
    "input_shape",
    "stride",
    "padding",
    "dilation",
    "groups",
    "kernel_size",
    "start_dim",
    "end_dim",
    "input_type",
];

fn write_node(grp: &mut GroupBuilder, nd: &Node) {
    grp.create_dataset("type")
        .with_vlen_strings(&[nd.kind.as_str()])
        .with_shape(&[]);
    for (f, t) in &nd.fields {
        let shape: Vec<u64> = t.shape.iter().map(|d| *d as u64).collect();
        if INTEGER_FIELDS.contains(&f.as_str()) {
            let v: Vec<i64> = t.data.iter().map(|x| *x as i64).collect();
            grp.create_dataset(f).with_i64_data(&v).with_shape(&shape);
        } else {
            grp.create_dataset(f)
                .with_f64_data(&t.data)
                .with_shape(&shape);
        }
    }
}
