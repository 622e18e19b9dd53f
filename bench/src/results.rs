//! Criterion's results as the report binaries read them.

use std::path::PathBuf;

/// The median in ns of one benchmark, if it ran: the smallest over the runs in `dirs`.
pub fn median(dirs: &[PathBuf], parts: &[&str]) -> Option<f64> {
    dirs.iter()
        .filter_map(|dir| {
            let mut path = dir.clone();
            path.extend(parts);
            path.extend(["new", "estimates.json"]);
            let json = std::fs::read_to_string(path).ok()?;
            point_estimate(&json, "median")
        })
        .reduce(f64::min)
}

/// `<key>.point_estimate` from criterion's `estimates.json`: the first `"point_estimate"` after
/// `"<key>":` (each estimate is `{"confidence_interval": {...}, "point_estimate": x, ...}`).
pub fn point_estimate(json: &str, key: &str) -> Option<f64> {
    let start = json.find(&format!("\"{key}\":"))?;
    let rest = &json[start..];
    let value = &rest[rest.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = value.find([',', '}'])?;
    value[..end].trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_median_not_the_mean() {
        let json = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":2.0},"point_estimate":21.7,"standard_error":0.04},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":21.6,"upper_bound":21.8},"point_estimate":21.664075061539826,"standard_error":0.045}}"#;
        assert_eq!(point_estimate(json, "median"), Some(21.664075061539826));
        assert_eq!(point_estimate(json, "mean"), Some(21.7));
        assert_eq!(point_estimate(json, "slope"), None);
    }
}
