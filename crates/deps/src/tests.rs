use super::*;
use proptest::prelude::*;

fn os(names: &[&str]) -> Vec<OsString> {
    names.iter().map(OsString::from).collect()
}

/// A graph from `name: dep dep; name: dep` pairs.
fn graph(edges: &[(&str, &[&str])], roots: &[&str]) -> Graph {
    let map: HashMap<OsString, Vec<OsString>> = edges
        .iter()
        .map(|(n, d)| (OsString::from(n), os(d)))
        .collect();
    Graph::build(os(roots), |n| map.get(n).cloned().unwrap_or_default())
}

#[test]
fn reads_sorted_names_without_dot_files() {
    let dir = std::env::temp_dir().join(format!("herd-deps-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.join(DIR);
    std::fs::create_dir_all(&d).unwrap();
    for f in ["web", "db", ".hidden", "cache"] {
        std::fs::write(d.join(f), "").unwrap();
    }
    std::fs::write(d.join("a\nb"), "").unwrap();
    assert_eq!(read(&dir).unwrap(), os(&["cache", "db", "web"]));
    std::fs::remove_dir_all(&d).unwrap();
    assert_eq!(read(&dir).unwrap(), Vec::<OsString>::new());
    std::fs::write(&d, "not a directory").unwrap();
    assert_eq!(read(&dir).unwrap(), Vec::<OsString>::new());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_cycle_in_a_chain() {
    let g = graph(&[("c", &["b"]), ("b", &["a"])], &["c"]);
    for n in ["a", "b", "c"] {
        assert!(g.cycle_of(OsStr::new(n)).is_empty());
        assert_eq!(g.cycle_path(OsStr::new(n)), None);
    }
}

#[test]
fn a_cycle_is_found_from_each_member() {
    let g = graph(
        &[("app", &["b"]), ("b", &["c"]), ("c", &["a"]), ("a", &["b"])],
        &["app"],
    );
    assert!(g.cycle_of(OsStr::new("app")).is_empty());
    for n in ["a", "b", "c"] {
        assert_eq!(g.cycle_of(OsStr::new(n)), os(&["a", "b", "c"]));
    }
    assert_eq!(
        g.cycle_path(OsStr::new("a")),
        Some(os(&["a", "b", "c", "a"]))
    );
    assert_eq!(
        cycle_text(&g.cycle_path(OsStr::new("c")).unwrap()),
        "c -> a -> b -> c"
    );
}

#[test]
fn a_service_that_depends_on_itself_is_a_cycle_of_one() {
    let g = graph(&[("a", &["a", "b"])], &["a"]);
    assert_eq!(g.cycle_of(OsStr::new("a")), os(&["a"]));
    assert_eq!(g.cycle_path(OsStr::new("a")), Some(os(&["a", "a"])));
    assert!(g.cycle_of(OsStr::new("b")).is_empty());
}

#[test]
fn the_shortest_cycle_is_named() {
    let g = graph(
        &[
            ("a", &["b", "x"]),
            ("b", &["c"]),
            ("c", &["a"]),
            ("x", &["a"]),
        ],
        &["a"],
    );
    assert_eq!(g.cycle_path(OsStr::new("a")), Some(os(&["a", "x", "a"])));
    assert_eq!(g.cycle_of(OsStr::new("a")), os(&["a", "b", "c", "x"]));
}

#[test]
fn each_name_is_looked_up_once() {
    let mut asked = Vec::new();
    let _ = Graph::build(os(&["a", "b"]), |n| {
        asked.push(n.to_owned());
        match n.to_str() {
            Some("a") => os(&["b", "c"]),
            Some("b") => os(&["c"]),
            Some("c") => os(&["a"]),
            _ => Vec::new(),
        }
    });
    asked.sort();
    assert_eq!(asked, os(&["a", "b", "c"]));
}

#[test]
fn services_without_dependencies_stop_in_one_layer() {
    let g = graph(&[], &["a", "b", "c"]);
    assert_eq!(
        g.stop_layers(&os(&["a", "b", "c"])),
        vec![os(&["a", "b", "c"])]
    );
    assert_eq!(
        Graph::default().stop_layers(&[]),
        Vec::<Vec<OsString>>::new()
    );
}

#[test]
fn dependents_stop_first() {
    let g = graph(&[("c", &["b"]), ("b", &["a"]), ("x", &["a"])], &["c", "x"]);
    let among = os(&["a", "b", "c", "x", "y"]);
    assert_eq!(
        g.stop_layers(&among),
        vec![os(&["c", "x", "y"]), os(&["b"]), os(&["a"])]
    );
}

#[test]
fn dependencies_not_running_are_not_waited_for() {
    // b is not among the running services: c and a stop at once.
    let g = graph(&[("c", &["b"]), ("b", &["a"])], &["c"]);
    assert_eq!(g.stop_layers(&os(&["a", "c"])), vec![os(&["a", "c"])]);
}

#[test]
fn a_cycle_stops_together_after_its_dependents() {
    let g = graph(
        &[("app", &["b"]), ("b", &["c"]), ("c", &["b", "base"])],
        &["app"],
    );
    assert_eq!(
        g.stop_layers(&os(&["base", "b", "c", "app"])),
        vec![os(&["app"]), os(&["b", "c"]), os(&["base"])]
    );
    // A member of the cycle that nobody outside depends on still waits for its partner.
    let g = graph(&[("x", &["a"]), ("a", &["b"]), ("b", &["a"])], &["x"]);
    assert_eq!(
        g.stop_layers(&os(&["a", "b", "x"])),
        vec![os(&["x"]), os(&["a", "b"])]
    );
}

/// A random graph over `n` names `s0`…: each edge list of each node.
fn random_graph() -> impl Strategy<Value = (usize, Vec<Vec<usize>>)> {
    (1usize..12).prop_flat_map(|n| {
        (
            Just(n),
            proptest::collection::vec(proptest::collection::vec(0..n, 0..4), n),
        )
    })
}

fn name(i: usize) -> OsString {
    OsString::from(format!("s{i}"))
}

proptest! {
    /// Every service stops exactly once, and no service stops in a layer before one that
    /// depends on it, unless the two are in one cycle (then they stop in the same layer).
    #[test]
    fn prop_stop_layers_respect_every_dependency((n, edges) in random_graph()) {
        let map: HashMap<OsString, Vec<OsString>> = edges
            .iter()
            .enumerate()
            .map(|(i, d)| (name(i), d.iter().map(|&j| name(j)).collect()))
            .collect();
        let all: Vec<OsString> = (0..n).map(name).collect();
        let g = Graph::build(all.clone(), |x| map.get(x).cloned().unwrap_or_default());
        let layers = g.stop_layers(&all);
        let mut layer_of = HashMap::new();
        for (k, layer) in layers.iter().enumerate() {
            prop_assert!(!layer.is_empty());
            for x in layer {
                prop_assert!(layer_of.insert(x.clone(), k).is_none());
            }
        }
        prop_assert_eq!(layer_of.len(), n);
        for (a, deps) in edges.iter().enumerate() {
            for &b in deps {
                let (la, lb) = (layer_of[&name(a)], layer_of[&name(b)]);
                let together = g.cycle_of(&name(a)).contains(&name(b));
                if together {
                    prop_assert_eq!(la, lb);
                } else {
                    prop_assert!(la < lb, "s{} depends on s{}: layers {} and {}", a, b, la, lb);
                }
            }
        }
    }

    /// A cycle path starts and ends at the service, follows real edges, and only visits members
    /// of its cycle; there is one exactly when `cycle_of` is not empty.
    #[test]
    fn prop_cycle_paths_follow_edges((n, edges) in random_graph()) {
        let map: HashMap<OsString, Vec<OsString>> = edges
            .iter()
            .enumerate()
            .map(|(i, d)| (name(i), d.iter().map(|&j| name(j)).collect()))
            .collect();
        let g = Graph::build((0..n).map(name), |x| map.get(x).cloned().unwrap_or_default());
        for i in 0..n {
            let members = g.cycle_of(&name(i));
            match g.cycle_path(&name(i)) {
                None => prop_assert!(members.is_empty()),
                Some(path) => {
                    prop_assert!(path.len() >= 2);
                    prop_assert_eq!(&path[0], &name(i));
                    prop_assert_eq!(path.last(), Some(&name(i)));
                    for w in path.windows(2) {
                        prop_assert!(map[&w[0]].contains(&w[1]));
                        prop_assert!(members.contains(&w[0]));
                    }
                }
            }
        }
    }
}
