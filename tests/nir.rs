//! NIR import and export: the snnTorch fixtures reproduce snnTorch on the
//! chip, export then import is lossless, a recurrent graph runs, and bad
//! graphs are one-line errors.

mod common;

use common::nir_fixtures::{self, figures, options, FIXTURES};
use neurocycle::config::HwConfig;
use neurocycle::model::Reset;
use neurocycle::nir::{self, import::ImportOptions, Graph, Node, Tensor};

#[test]
fn snntorch_fixtures_match_snntorch_at_16_bits_on_loihi() {
    let hw = HwConfig::preset("loihi").unwrap();
    for name in FIXTURES {
        let f = figures(name, &hw, &options(16, Reset::DelayedSubtract, None), false);
        assert_eq!(f.same_class, f.samples, "{name}: {f:?}");
        assert!(f.output_min >= 0.95, "{name}: {f:?}");
        assert!(f.hidden_min.unwrap() >= 0.95, "{name}: {f:?}");
    }
}

#[test]
fn import_export_import_is_lossless() {
    let dir = std::env::temp_dir().join(format!("nc-nir-rt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in FIXTURES {
        let g = nir::file::read(&nir_fixtures::dir().join(format!("{name}.nir"))).unwrap();
        let o = options(16, Reset::DelayedSubtract, None);
        let a = nir::import::import(&g, &o, "a", name).unwrap();
        let path = dir.join(format!("{name}.nir"));
        nir::file::write(&nir::export::export(&a, o.dt, "a").unwrap(), &path).unwrap();
        let b = nir::import::import(&nir::file::read(&path).unwrap(), &o, "a", name).unwrap();
        assert_eq!(a.populations, b.populations, "{name}");
        assert_eq!(a.projections.len(), b.projections.len());
        for (p, q) in a.projections.iter().zip(&b.projections) {
            assert_eq!(
                (p.source, p.target, p.delay, &p.conn),
                (q.source, q.target, q.delay, &q.conn),
                "{name}"
            );
        }
        assert_eq!(
            (a.output, a.readout, a.input.clone()),
            (b.output, b.readout, b.input.clone())
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn vector(v: &[f64]) -> Tensor {
    Tensor::vector(v.to_vec())
}

fn matrix(rows: usize, cols: usize, v: &[f64]) -> Tensor {
    Tensor {
        shape: vec![rows, cols],
        data: v.to_vec(),
    }
}

/// input(2) -> Linear -> LIF(2) <-> Linear (recurrent) ; LIF -> output.
fn recurrent_graph() -> Graph {
    let mut g = Graph::default();
    let lif = Node::new("LIF")
        .with("tau", vector(&[1e-3, 1e-3]))
        .with("r", vector(&[10.0, 10.0])) // gain r * dt / tau = 1 at dt = 1e-4
        .with("v_leak", vector(&[0.0, 0.0]))
        .with("v_threshold", vector(&[3.0, 3.0]))
        .with("v_reset", vector(&[0.0, 0.0]));
    g.nodes.insert(
        "in".into(),
        Node::new("Input").with("shape", vector(&[2.0])),
    );
    g.nodes.insert(
        "w".into(),
        Node::new("Linear").with("weight", matrix(2, 2, &[4.0, 0.0, 0.0, 1.0])),
    );
    g.nodes.insert("lif".into(), lif);
    g.nodes.insert(
        "rec".into(),
        Node::new("Linear").with("weight", matrix(2, 2, &[0.0, 0.0, 4.0, 0.0])),
    );
    g.nodes.insert(
        "out".into(),
        Node::new("Output").with("shape", vector(&[2.0])),
    );
    for (a, b) in [
        ("in", "w"),
        ("w", "lif"),
        ("lif", "rec"),
        ("rec", "lif"),
        ("lif", "out"),
    ] {
        g.edges.push((a.into(), b.into()));
    }
    g
}

#[test]
fn a_recurrent_graph_imports_with_a_one_step_recurrence_and_runs_as_computed_by_hand() {
    let o = ImportOptions {
        weight_bits: 8,
        ..ImportOptions::default()
    };
    let m = nir::import::import(&recurrent_graph(), &o, "test", "rec").unwrap();
    assert_eq!(m.populations.len(), 1);
    let rec = m.projections.iter().find(|p| p.name == "rec").unwrap();
    assert_eq!(rec.delay, Some(1));
    assert_eq!(
        m.projections.iter().find(|p| p.name == "w").unwrap().delay,
        Some(0)
    );
    // Integral weights within 8 bits keep scale 1.
    assert_eq!(
        m.populations[0].neuron.threshold,
        neurocycle::model::Param::Scalar(3)
    );
    // A spike on input 0 at t = 0: neuron 0 gets 4 > 3 and spikes at t = 0;
    // its recurrent spike reaches neuron 1 with 4 at t = 1, which spikes.
    let stim = neurocycle::model::stimulus::Stimulus::from_timesteps(
        vec![
            vec![neurocycle::model::stimulus::InputEvent {
                input: 0,
                payload: 1,
            }],
            vec![],
            vec![],
        ],
        None,
    );
    let mut m3 = m.clone();
    m3.timesteps = 3;
    let r = neurocycle::reference::run(&m3, &stim);
    let got: Vec<(u32, u32)> = r.spikes.iter().map(|s| (s.t, s.neuron)).collect();
    assert_eq!(got, vec![(0, 0), (1, 1)]);
    let hw = HwConfig::preset("default").unwrap();
    common::check(&m3, &hw, 4, 1);
}

#[test]
fn unsupported_and_malformed_graphs_are_one_line_errors() {
    let o = ImportOptions::default();
    let mut g = recurrent_graph();
    g.nodes.insert("x".into(), Node::new("Conv1d"));
    let e = nir::import::import(&g, &o, "f.nir", "m")
        .unwrap_err()
        .to_string();
    assert!(e.contains("node `x`") && e.contains("Conv1d"), "{e}");
    assert!(!e.contains('\n'));

    let mut g = recurrent_graph();
    g.edges.push(("rec".into(), "w".into()));
    g.edges.push(("w".into(), "rec".into()));
    let e = nir::import::import(&g, &o, "f.nir", "m")
        .unwrap_err()
        .to_string();
    assert!(e.contains("cycle without a neuron"), "{e}");

    let mut g = recurrent_graph();
    g.nodes
        .get_mut("lif")
        .unwrap()
        .fields
        .insert("tau".into(), vector(&[1e-3, 2e-3]));
    let e = nir::import::import(&g, &o, "f.nir", "m")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("node `lif`.tau") && e.contains("one decay per population"),
        "{e}"
    );

    let mut g = recurrent_graph();
    g.nodes
        .get_mut("lif")
        .unwrap()
        .fields
        .insert("tau".into(), vector(&[1e-5, 1e-5]));
    let e = nir::import::import(&g, &o, "f.nir", "m")
        .unwrap_err()
        .to_string();
    assert!(e.contains("dt"), "{e}");

    let mut g = recurrent_graph();
    g.nodes
        .get_mut("w")
        .unwrap()
        .fields
        .insert("weight".into(), matrix(2, 3, &[0.0; 6]));
    let e = nir::import::import(&g, &o, "f.nir", "m")
        .unwrap_err()
        .to_string();
    assert!(e.contains("node `w`"), "{e}");

    let dir = std::env::temp_dir().join(format!("nc-nir-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("not.nir");
    std::fs::write(&p, b"hello").unwrap();
    let e = nir::file::read(&p).unwrap_err().to_string();
    assert!(e.contains("not HDF5"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
