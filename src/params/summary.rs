//! [`Summary`]: the table of a store's parameters (name, shape, count, total) printed before
//! training.

use super::ParamStore;
use std::fmt;

/// A model summary: every parameter's name, shape and count, then the total. See
/// [`ParamStore::summary`].
pub struct Summary<'s> {
    pub(super) store: &'s ParamStore,
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<(&str, String, String)> = self
            .store
            .iter()
            .map(|(name, value)| {
                (
                    name,
                    format!("{:?}", value.shape()),
                    value.len().to_string(),
                )
            })
            .collect();
        let total = self.store.num_elements().to_string();
        let name_width = rows
            .iter()
            .map(|r| r.0.chars().count())
            .chain(["parameter".len(), "total".len()]);
        let name_width = name_width.max().unwrap_or(0);
        let shape_width = rows
            .iter()
            .map(|r| r.1.chars().count())
            .chain(["shape".len()])
            .max()
            .unwrap_or(0);
        let count_width = rows
            .iter()
            .map(|r| r.2.len())
            .chain(["count".len(), total.len()])
            .max()
            .unwrap_or(0);
        writeln!(
            f,
            "{:name_width$}  {:shape_width$}  {:>count_width$}",
            "parameter", "shape", "count"
        )?;
        for (name, shape, count) in &rows {
            writeln!(
                f,
                "{name:name_width$}  {shape:shape_width$}  {count:>count_width$}"
            )?;
        }
        writeln!(
            f,
            "{:name_width$}  {:shape_width$}  {total:>count_width$}",
            "total", ""
        )
    }
}
