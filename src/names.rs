//! Names for nodes: `w1`, `z`, `loss`, given by the user with [`Var::named`], or `n7` for a node
//! nobody named. The trace and the pictures of the graph print these names.
//!
//! Names live in a side table of the [`Tape`] (a map from node to name), not in the nodes, so a
//! node stays small and a tape on which nothing is named pays nothing. [`Tape::clear`] empties
//! the table with the nodes. This file only stores and looks up names; it never checks that they
//! are unique (two nodes may share a name, as two variables in a formula may look alike).

use crate::tape::{NodeId, Tape};
use crate::var::Var;

impl<'t> Var<'t> {
    /// Gives this node a name, which traces and pictures of the graph print, and returns the same
    /// Var, so that a name can be given where the node is made. Naming a node again replaces its
    /// name; an empty name removes it (the node is called `n{index}` again).
    ///
    /// ```
    /// use tapegrad::Tape;
    ///
    /// let tape = Tape::new();
    /// let w1 = tape.param(0.5).named("w1");
    /// let x1 = tape.constant(2.0);
    /// let z = (w1 * x1).named("z");
    /// assert_eq!((w1.name(), x1.name(), z.name()), ("w1".into(), "n1".into(), "z".into()));
    /// ```
    pub fn named(self, name: impl Into<String>) -> Var<'t> {
        let name = name.into();
        let mut names = self.tape().names.borrow_mut();
        if name.is_empty() {
            names.remove(&self.id());
        } else {
            names.insert(self.id(), name);
        }
        self
    }

    /// The node's name: the one given with [`named`](Var::named), or else `n{index}`, its
    /// position on the tape (stable: the same node always gets the same name).
    pub fn name(&self) -> String {
        self.tape().node_name(self.id())
    }
}

impl Tape {
    /// The name of node `id`: given, or generated from its index.
    pub(crate) fn node_name(&self, id: NodeId) -> String {
        self.given_name(id)
            .unwrap_or_else(|| format!("n{}", id.index()))
    }

    /// The name the user gave node `id`, if any.
    pub(crate) fn given_name(&self, id: NodeId) -> Option<String> {
        let names = self.names.borrow();
        if names.is_empty() {
            return None; // no hashing at all on a tape where nothing is named
        }
        names.get(&id).cloned()
    }

    /// Whether some node is called `name` by the user.
    pub(crate) fn has_given_name(&self, name: &str) -> bool {
        self.names.borrow().values().any(|given| given == name)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tape;

    #[test]
    fn names_are_given_replaced_removed_and_cleared() {
        let mut tape = Tape::new();
        let a = tape.param(1.0);
        assert_eq!(a.name(), "n0");
        let b = (a * 2.0).named("b");
        assert_eq!((a.name(), b.name()), ("n0".to_string(), "b".to_string()));
        b.named("b′");
        assert_eq!(b.name(), "b′");
        b.named("");
        assert_eq!(b.name(), "n1");
        let _ = a.named("a");
        tape.clear();
        assert!(tape.names.borrow().is_empty());
        assert_eq!(tape.param(1.0).name(), "n0");
    }
}
