//! A small column table (particles, profiles, spectra) that writers turn
//! into CSV or Parquet.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// One typed column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Column {
    /// Floating-point values.
    F64(Vec<f64>),
    /// Signed integers.
    I64(Vec<i64>),
    /// Unsigned integers.
    U64(Vec<u64>),
    /// Booleans.
    Bool(Vec<bool>),
    /// Text.
    Str(Vec<String>),
}

impl Column {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::F64(v) => v.len(),
            Column::I64(v) => v.len(),
            Column::U64(v) => v.len(),
            Column::Bool(v) => v.len(),
            Column::Str(v) => v.len(),
        }
    }
    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The value at `row` as text (CSV cell). Floats use the shortest exact form; NaN is empty.
    pub fn cell(&self, row: usize) -> String {
        match self {
            Column::F64(v) => {
                if v[row].is_nan() {
                    String::new()
                } else {
                    format!("{}", v[row])
                }
            }
            Column::I64(v) => v[row].to_string(),
            Column::U64(v) => v[row].to_string(),
            Column::Bool(v) => v[row].to_string(),
            Column::Str(v) => v[row].clone(),
        }
    }
    /// The value at `row` as f64 (NaN for text).
    pub fn value_f64(&self, row: usize) -> f64 {
        match self {
            Column::F64(v) => v[row],
            Column::I64(v) => v[row] as f64,
            Column::U64(v) => v[row] as f64,
            Column::Bool(v) => v[row] as u8 as f64,
            Column::Str(_) => f64::NAN,
        }
    }
}

/// Named columns of equal length, with optional units per column.
///
/// ```
/// use chemomech_core::{Table, Column};
/// let mut t = Table::default();
/// t.push("id", Column::U64(vec![1, 2]), None).unwrap();
/// t.push("volume_um3", Column::F64(vec![3.5, 4.0]), Some("µm³")).unwrap();
/// assert_eq!(t.rows(), 2);
/// assert_eq!(t.f64("volume_um3").unwrap(), vec![3.5, 4.0]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Column names, in order.
    pub names: Vec<String>,
    /// The columns, in the order of `names`.
    pub columns: Vec<Column>,
    /// Unit of each column, when it has one.
    pub units: Vec<Option<String>>,
}

impl Table {
    /// A table from (name, column, unit) triples.
    ///
    /// ```
    /// use chemomech_core::{Column, Table};
    /// let t = Table::from_columns(vec![("energy_ev", Column::F64(vec![8333.0]), Some("eV"))]).unwrap();
    /// assert_eq!(t.rows(), 1);
    /// ```
    pub fn from_columns(cols: Vec<(&str, Column, Option<&str>)>) -> Result<Self> {
        let mut t = Self::default();
        for (n, c, u) in cols {
            t.push(n, c, u)?;
        }
        Ok(t)
    }
    /// Appends a column; its length must match the others.
    pub fn push(&mut self, name: &str, col: Column, unit: Option<&str>) -> Result<()> {
        if let Some(first) = self.columns.first()
            && first.len() != col.len()
        {
            return Err(Error::shape(format!("column '{name}' has {} rows, table has {}", col.len(), first.len())));
        }
        if self.names.iter().any(|n| n == name) {
            return Err(Error::param(format!("duplicate column '{name}'")));
        }
        self.names.push(name.to_string());
        self.columns.push(col);
        self.units.push(unit.map(str::to_string));
        Ok(())
    }
    /// Replaces the column `name` (keeping its place and unit), or appends
    /// it when there is none.
    pub fn set(&mut self, name: &str, col: Column, unit: Option<&str>) -> Result<()> {
        match self.names.iter().position(|n| n == name) {
            Some(i) if self.columns[i].len() == col.len() => {
                self.columns[i] = col;
                Ok(())
            }
            Some(i) => Err(Error::shape(format!(
                "column '{name}' has {} rows, table has {}",
                col.len(),
                self.columns[i].len()
            ))),
            None => self.push(name, col, unit),
        }
    }
    /// The rows where `keep` is true, in order.
    ///
    /// ```
    /// use chemomech_core::{Column, Table};
    /// let t = Table::from_columns(vec![("id", Column::U64(vec![1, 2, 3]), None)]).unwrap();
    /// assert_eq!(t.filter(&[true, false, true]).f64("id").unwrap(), vec![1.0, 3.0]);
    /// ```
    pub fn filter(&self, keep: &[bool]) -> Table {
        fn pick<T: Clone>(v: &[T], keep: &[bool]) -> Vec<T> {
            v.iter().zip(keep).filter(|(_, k)| **k).map(|(x, _)| x.clone()).collect()
        }
        let columns = self
            .columns
            .iter()
            .map(|c| match c {
                Column::F64(v) => Column::F64(pick(v, keep)),
                Column::I64(v) => Column::I64(pick(v, keep)),
                Column::U64(v) => Column::U64(pick(v, keep)),
                Column::Bool(v) => Column::Bool(pick(v, keep)),
                Column::Str(v) => Column::Str(pick(v, keep)),
            })
            .collect();
        Table { names: self.names.clone(), columns, units: self.units.clone() }
    }
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }
    /// The column called `name`.
    pub fn get(&self, name: &str) -> Option<&Column> {
        self.names.iter().position(|n| n == name).map(|i| &self.columns[i])
    }
    /// A numeric column as f64 values.
    pub fn f64(&self, name: &str) -> Result<Vec<f64>> {
        let c = self.get(name).ok_or_else(|| Error::data(format!("no column '{name}'")))?;
        if let Column::Str(_) = c {
            return Err(Error::data(format!("column '{name}' is text, not numbers")));
        }
        Ok((0..c.len()).map(|i| c.value_f64(i)).collect())
    }
    /// A text column.
    pub fn str(&self, name: &str) -> Result<&[String]> {
        match self.get(name) {
            Some(Column::Str(v)) => Ok(v),
            Some(_) => Err(Error::data(format!("column '{name}' is not text"))),
            None => Err(Error::data(format!("no column '{name}'"))),
        }
    }
}
