//! Tables as CSV (with a provenance sidecar `NAME.provenance.json`) and
//! Parquet (provenance and units in the file's key-value metadata).

use chemomech_core::{Column, Error, Provenance, Result, Table};
use std::path::Path;

/// Writes a table as CSV atomically; with provenance, also `NAME.provenance.json`.
pub fn write_csv(path: &Path, t: &Table, prov: Option<&Provenance>) -> Result<()> {
    crate::atomic::write_via_temp(path, |tmp| {
        let mut w = csv::Writer::from_path(tmp).map_err(|e| Error::data(format!("CSV: {e}")))?;
        w.write_record(&t.names).map_err(|e| Error::data(format!("CSV: {e}")))?;
        let mut row = Vec::with_capacity(t.columns.len());
        for r in 0..t.rows() {
            row.clear();
            row.extend(t.columns.iter().map(|c| c.cell(r)));
            w.write_record(&row).map_err(|e| Error::data(format!("CSV: {e}")))?;
        }
        w.flush().map_err(|e| Error::io(e).at(tmp))
    })?;
    if let Some(p) = prov {
        let side = sidecar(path);
        let units: serde_json::Map<String, serde_json::Value> = t
            .names
            .iter()
            .zip(&t.units)
            .filter_map(|(n, u)| u.as_ref().map(|u| (n.clone(), u.clone().into())))
            .collect();
        crate::atomic::write_json(&side, &serde_json::json!({"provenance": p.to_json(), "units": units}))?;
    }
    Ok(())
}

/// `particles.csv` -> `particles.csv.provenance.json`.
pub fn sidecar(path: &Path) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".provenance.json");
    s.into()
}

/// Reads a CSV table; columns that parse fully as integers become I64,
/// as numbers F64 (empty cells are NaN), `true`/`false` Bool, else text.
pub fn read_csv(path: &Path) -> Result<Table> {
    let mut r = csv::Reader::from_path(path).map_err(|e| Error::data(format!("CSV: {e}")).at(path))?;
    let names: Vec<String> =
        r.headers().map_err(|e| Error::data(format!("CSV header: {e}")).at(path))?.iter().map(str::to_string).collect();
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| Error::data(format!("CSV row {}: {e}", i + 2)).at(path))?;
        if rec.len() != names.len() {
            return Err(
                Error::data(format!("CSV row {} has {} fields, header has {}", i + 2, rec.len(), names.len())).at(path)
            );
        }
        for (c, v) in rec.iter().enumerate() {
            cells[c].push(v.to_string());
        }
    }
    let mut t = Table::default();
    for (n, col) in names.iter().zip(cells) {
        let c = if !col.is_empty() && col.iter().all(|s| s.parse::<i64>().is_ok()) {
            Column::I64(col.iter().map(|s| s.parse().unwrap_or_default()).collect())
        } else if !col.is_empty() && col.iter().all(|s| s.is_empty() || s.parse::<f64>().is_ok()) {
            Column::F64(col.iter().map(|s| s.parse().unwrap_or(f64::NAN)).collect())
        } else if !col.is_empty() && col.iter().all(|s| s == "true" || s == "false") {
            Column::Bool(col.iter().map(|s| s == "true").collect())
        } else {
            Column::Str(col)
        };
        t.push(n, c, None).map_err(|e| e.at(path))?;
    }
    Ok(t)
}

/// Writes a table as Parquet (zstd) atomically, with units and provenance
/// in the key-value metadata.
#[cfg(feature = "parquet")]
pub fn write_parquet(path: &Path, t: &Table, prov: Option<&Provenance>) -> Result<()> {
    use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::metadata::KeyValue;
    use parquet::file::properties::WriterProperties;
    use std::sync::Arc;

    let mut fields = Vec::new();
    let mut cols: Vec<ArrayRef> = Vec::new();
    for ((n, c), u) in t.names.iter().zip(&t.columns).zip(&t.units) {
        let (dt, arr): (DataType, ArrayRef) = match c {
            Column::F64(v) => (DataType::Float64, Arc::new(Float64Array::from(v.clone()))),
            Column::I64(v) => (DataType::Int64, Arc::new(Int64Array::from(v.clone()))),
            Column::U64(v) => (DataType::UInt64, Arc::new(UInt64Array::from(v.clone()))),
            Column::Bool(v) => (DataType::Boolean, Arc::new(BooleanArray::from(v.clone()))),
            Column::Str(v) => (DataType::Utf8, Arc::new(StringArray::from(v.clone()))),
        };
        let mut f = Field::new(n, dt, false);
        if let Some(u) = u {
            f = f.with_metadata(std::collections::HashMap::from([("unit".to_string(), u.clone())]));
        }
        fields.push(f);
        cols.push(arr);
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), cols).map_err(|e| Error::data(format!("Parquet: {e}")))?;
    let mut kv = vec![KeyValue::new("creator".into(), format!("chemomech {}", chemomech_core::VERSION))];
    if let Some(p) = prov {
        kv.push(KeyValue::new("chemomech.provenance".into(), p.to_json_string()));
    }
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("valid level")))
        .set_key_value_metadata(Some(kv))
        .build();
    crate::atomic::write_via_temp(path, |tmp| {
        let f = std::fs::File::create(tmp).map_err(|e| Error::io(e).at(tmp))?;
        let mut w = ArrowWriter::try_new(f, schema, Some(props)).map_err(|e| Error::data(format!("Parquet: {e}")))?;
        w.write(&batch).map_err(|e| Error::data(format!("Parquet: {e}")))?;
        w.close().map_err(|e| Error::data(format!("Parquet: {e}")))?;
        Ok(())
    })
}

/// Reads a Parquet table written by chemomech (or any flat table of
/// numbers, booleans and strings).
#[cfg(feature = "parquet")]
pub fn read_parquet(path: &Path) -> Result<Table> {
    use arrow_array::{
        Array, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array, StringArray, UInt32Array, UInt64Array,
    };
    use arrow_schema::DataType;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let f = std::fs::File::open(path).map_err(|e| Error::io(e).at(path))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| Error::data(format!("Parquet: {e}")).at(path))?;
    let schema = b.schema().clone();
    let reader = b.build().map_err(|e| Error::data(format!("Parquet: {e}")).at(path))?;
    let mut cols: Vec<Column> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Int64 | DataType::Int32 => Ok(Column::I64(Vec::new())),
            DataType::UInt64 | DataType::UInt32 => Ok(Column::U64(Vec::new())),
            DataType::Float64 | DataType::Float32 => Ok(Column::F64(Vec::new())),
            DataType::Boolean => Ok(Column::Bool(Vec::new())),
            DataType::Utf8 => Ok(Column::Str(Vec::new())),
            other => Err(Error::data(format!("Parquet column '{}' has unsupported type {other}", f.name())).at(path)),
        })
        .collect::<Result<_>>()?;
    for batch in reader {
        let batch = batch.map_err(|e| Error::data(format!("Parquet: {e}")).at(path))?;
        for (i, c) in cols.iter_mut().enumerate() {
            let a = batch.column(i);
            let any = a.as_any();
            match c {
                Column::I64(v) => {
                    if let Some(x) = any.downcast_ref::<Int64Array>() {
                        v.extend(x.values().iter());
                    } else if let Some(x) = any.downcast_ref::<Int32Array>() {
                        v.extend(x.values().iter().map(|&y| y as i64));
                    }
                }
                Column::U64(v) => {
                    if let Some(x) = any.downcast_ref::<UInt64Array>() {
                        v.extend(x.values().iter());
                    } else if let Some(x) = any.downcast_ref::<UInt32Array>() {
                        v.extend(x.values().iter().map(|&y| y as u64));
                    }
                }
                Column::F64(v) => {
                    if let Some(x) = any.downcast_ref::<Float64Array>() {
                        v.extend((0..x.len()).map(|k| if x.is_null(k) { f64::NAN } else { x.value(k) }));
                    } else if let Some(x) = any.downcast_ref::<Float32Array>() {
                        v.extend((0..x.len()).map(|k| if x.is_null(k) { f64::NAN } else { x.value(k) as f64 }));
                    }
                }
                Column::Bool(v) => {
                    if let Some(x) = any.downcast_ref::<BooleanArray>() {
                        v.extend((0..x.len()).map(|k| x.value(k)));
                    }
                }
                Column::Str(v) => {
                    if let Some(x) = any.downcast_ref::<StringArray>() {
                        v.extend((0..x.len()).map(|k| x.value(k).to_string()));
                    }
                }
            }
        }
    }
    let mut t = Table::default();
    for (f, c) in schema.fields().iter().zip(cols) {
        let unit = f.metadata().get("unit").cloned();
        t.push(f.name(), c, unit.as_deref()).map_err(|e| e.at(path))?;
    }
    Ok(t)
}
