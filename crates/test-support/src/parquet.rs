//! Checking what the Parquet converter wrote against the CSV it read, cell by cell.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};

/// Asserts that row `row` of `array` holds the CSV text `cell` (an empty cell: a null), compared by type: floats
/// bit for bit, integers and timestamps (µs) as parsed, booleans, strings and dictionary strings as text.
///
/// # Panics
/// When the value differs, or the type is not one the converter writes; `context` says where.
pub fn assert_cell(array: &dyn Array, row: usize, cell: &str, context: &str) {
    if cell.is_empty() {
        assert!(array.is_null(row), "{context}: expected a null");
        return;
    }
    assert!(array.is_valid(row), "{context}: unexpected null");
    let integer = || cell.parse::<i64>().unwrap_or_else(|error| panic!("{context}: {error}"));
    match array.data_type() {
        DataType::Float64 => {
            let expected: f64 = cell.parse().unwrap_or_else(|error| panic!("{context}: {error}"));
            let actual = array.as_primitive::<Float64Type>().value(row);
            assert_eq!(actual.to_bits(), expected.to_bits(), "{context}: {actual}");
        }
        DataType::Timestamp(..) => {
            assert_eq!(
                array.as_primitive::<TimestampMicrosecondType>().value(row),
                integer(),
                "{context}"
            );
        }
        DataType::Int64 => {
            assert_eq!(array.as_primitive::<Int64Type>().value(row), integer(), "{context}")
        }
        DataType::Boolean => {
            assert_eq!(array.as_boolean().value(row).to_string(), cell, "{context}")
        }
        DataType::Utf8 => assert_eq!(array.as_string::<i32>().value(row), cell, "{context}"),
        DataType::Dictionary(..) => {
            let dictionary = array.as_dictionary::<Int32Type>();
            let key = usize::try_from(dictionary.keys().value(row)).expect("a key");
            assert_eq!(dictionary.values().as_string::<i32>().value(key), cell, "{context}");
        }
        other => panic!("{context}: unexpected type {other}"),
    }
}
