//! Dependencies between the services of one scan directory, in s6-rc's convention: a service
//! directory's `dependencies.d/` holds one empty file per dependency, named as the sibling
//! service (docs/readiness.md).
//!
//! [`read`] lists one directory. [`Graph`] is pure: it is built from a lookup (a closure, so the
//! caller decides where the names are read from) and answers the two questions herd asks:
//! which services form a cycle with a given one ([`Graph::cycle_of`], [`Graph::cycle_path`]:
//! supervise starts those without waiting on each other), and in which layers a set of running
//! services stops, dependents first ([`Graph::stop_layers`]: svscan's ordered stop).

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The directory of a service directory that names its dependencies.
pub const DIR: &str = "dependencies.d";

/// Whether `name` (a file of `dependencies.d/`) names a dependency: not hidden (a leading dot,
/// as in the scan directory), and no newline (it could not be written on one line of
/// `supervise/ready`).
pub fn is_dependency_name(name: &OsStr) -> bool {
    let b = name.as_bytes();
    !b.is_empty() && b[0] != b'.' && !b.contains(&b'\n')
}

/// The dependencies of the service directory `dir`, sorted by their bytes: the names in
/// `dir/dependencies.d/` that [`is_dependency_name`] accepts (of any file type). No
/// `dependencies.d` (or one that is not a directory) is no dependency; any other error is
/// returned.
pub fn read(dir: &Path) -> io::Result<Vec<OsString>> {
    let entries = match std::fs::read_dir(dir.join(DIR)) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(ENOTDIR) => {
            return Ok(Vec::new())
        }
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    for entry in entries {
        let name = entry?.file_name();
        if is_dependency_name(&name) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

const ENOTDIR: i32 = 20;

/// A dependency graph over service names: node `i` depends on each node of `deps[i]`.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    names: Vec<OsString>,
    index: HashMap<OsString, usize>,
    deps: Vec<Vec<usize>>,
}

impl Graph {
    /// The graph reachable from `roots`: each name is looked up once with `deps_of`, which gives
    /// its dependencies (a service that does not exist has none).
    pub fn build<I, F>(roots: I, mut deps_of: F) -> Graph
    where
        I: IntoIterator<Item = OsString>,
        F: FnMut(&OsStr) -> Vec<OsString>,
    {
        let mut g = Graph::default();
        let mut todo: Vec<usize> = roots.into_iter().map(|n| g.node(n)).collect();
        let mut seen = vec![false; g.names.len()];
        while let Some(i) = todo.pop() {
            if seen.get(i).copied().unwrap_or(false) {
                continue;
            }
            if seen.len() <= i {
                seen.resize(i + 1, false);
            }
            seen[i] = true;
            let found = deps_of(&g.names[i].clone());
            let mut edges = Vec::with_capacity(found.len());
            for d in found {
                let j = g.node(d);
                if !edges.contains(&j) {
                    edges.push(j);
                }
                todo.push(j);
            }
            g.deps[i] = edges;
        }
        g
    }

    fn node(&mut self, name: OsString) -> usize {
        if let Some(&i) = self.index.get(&name) {
            return i;
        }
        let i = self.names.len();
        self.index.insert(name.clone(), i);
        self.names.push(name);
        self.deps.push(Vec::new());
        i
    }

    /// The services in a cycle with `name` (its strongly connected component, `name` included),
    /// sorted by their bytes; empty if `name` is in no cycle. A service that depends on itself
    /// is a cycle of one.
    pub fn cycle_of(&self, name: &OsStr) -> Vec<OsString> {
        let Some(&start) = self.index.get(name) else {
            return Vec::new();
        };
        let from = self.reachable(start);
        let mut out: Vec<OsString> = (0..self.names.len())
            .filter(|&j| from[j] && self.reachable(j)[start])
            .map(|j| self.names[j].clone())
            .collect();
        if out.len() == 1 && !self.deps[start].contains(&start) {
            out.clear();
        }
        out.sort();
        out
    }

    /// Nodes reachable from `i` through at least one edge.
    fn reachable(&self, i: usize) -> Vec<bool> {
        let mut seen = vec![false; self.names.len()];
        let mut todo = self.deps[i].clone();
        while let Some(j) = todo.pop() {
            if !std::mem::replace(&mut seen[j], true) {
                todo.extend_from_slice(&self.deps[j]);
            }
        }
        seen
    }

    /// A shortest cycle from `name` back to itself, as the names along it, `name` first and
    /// last (`[a, b, a]`); `None` if `name` is in no cycle.
    pub fn cycle_path(&self, name: &OsStr) -> Option<Vec<OsString>> {
        let &start = self.index.get(name)?;
        // Breadth-first from start's dependencies; parents lead back to start.
        let mut parent: Vec<Option<usize>> = vec![None; self.names.len()];
        let mut queue = std::collections::VecDeque::new();
        let mut seen = vec![false; self.names.len()];
        for &d in &self.deps[start] {
            if !seen[d] {
                seen[d] = true;
                queue.push_back(d);
            }
        }
        while let Some(j) = queue.pop_front() {
            if j == start {
                let mut path = vec![start];
                let mut k = j;
                while let Some(p) = parent[k] {
                    path.push(p);
                    k = p;
                }
                path.push(start);
                path.reverse();
                // The walk back ends at start's dependency; start is on both ends.
                path.dedup();
                if path.len() == 1 {
                    path.push(start);
                }
                return Some(path.into_iter().map(|i| self.names[i].clone()).collect());
            }
            for &d in &self.deps[j] {
                if !seen[d] {
                    seen[d] = true;
                    parent[d] = Some(j);
                    queue.push_back(d);
                }
            }
        }
        None
    }

    /// The order in which the services `among` stop: layer by layer, each layer holding the
    /// services that no service still running depends on. Dependencies on services not in
    /// `among` are not looked at; the services of a cycle stop together, in one layer. Every name
    /// of `among` is in exactly one layer; within a layer names keep the order of `among`.
    pub fn stop_layers(&self, among: &[OsString]) -> Vec<Vec<OsString>> {
        // Node of each name of `among` (one that is not in the graph has no dependencies).
        let nodes: Vec<Option<usize>> = among.iter().map(|n| self.index.get(n).copied()).collect();
        let member = |i: usize| nodes.iter().position(|&n| n == Some(i));
        // reach[a][b]: among[a] depends on among[b], directly or through other members.
        let n = among.len();
        let direct: Vec<Vec<usize>> = nodes
            .iter()
            .map(|node| {
                node.map(|i| self.deps[i].iter().filter_map(|&d| member(d)).collect())
                    .unwrap_or_default()
            })
            .collect();
        // The cycle (component) of each member: the smallest member it reaches and is reached by.
        let reach: Vec<Vec<bool>> = (0..n).map(|a| reaches_from(&direct, a)).collect();
        let comp: Vec<usize> = (0..n)
            .map(|a| {
                (0..n)
                    .find(|&b| b == a || (reach[a][b] && reach[b][a]))
                    .unwrap_or(a)
            })
            .collect();
        let mut left: Vec<bool> = vec![true; n];
        let mut layers = Vec::new();
        while left.iter().any(|&l| l) {
            // A component is depended on when a member left outside it depends on one of its
            // members; then none of its members stops yet.
            let mut depended = vec![false; n];
            for a in (0..n).filter(|&a| left[a]) {
                for &b in &direct[a] {
                    if left[b] && comp[a] != comp[b] {
                        depended[comp[b]] = true;
                    }
                }
            }
            let layer: Vec<usize> = (0..n).filter(|&a| left[a] && !depended[comp[a]]).collect();
            for &a in &layer {
                left[a] = false;
            }
            layers.push(layer.into_iter().map(|a| among[a].clone()).collect());
        }
        layers
    }
}

/// `seen[b]`: member `from` reaches `b` through one edge or more.
fn reaches_from(direct: &[Vec<usize>], from: usize) -> Vec<bool> {
    let mut seen = vec![false; direct.len()];
    let mut todo = direct[from].clone();
    while let Some(x) = todo.pop() {
        if !std::mem::replace(&mut seen[x], true) {
            todo.extend_from_slice(&direct[x]);
        }
    }
    seen
}

/// `a -> b -> a`: a cycle as [`Graph::cycle_path`] gives it, for a message.
pub fn cycle_text(path: &[OsString]) -> String {
    path.iter()
        .map(|n| n.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" -> ")
}

#[cfg(test)]
mod tests;
