//! Esri ASCII grids (`.asc`), as ArcGIS, pysheds and PyKrige/KT3D write them.
//!
//! The header gives `ncols`, `nrows`, the lower-left corner (`xllcorner`/`yllcorner`) or
//! lower-left cell centre (`xllcenter`/`yllcenter`), either `cellsize` or separate `dx`/`dy`,
//! and an optional `nodata_value`; keys are case-insensitive. Values follow row by row from
//! the north, whitespace-separated, in any number format Rust parses (`2.0e+00`, `0.3E+02`);
//! text lines after the last value (KT3D's `PROJECTION`, `NOTES`) are ignored.

use crate::{GisError, GridGeometry, Raster};
use std::fmt::Write as _;

/// How [`write`] states the grid's origin and cell size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// `xllcorner`/`yllcorner` and `cellsize` (or `dx`/`dy` when cells are not square).
    Corner,
    /// `XLLCENTER`/`YLLCENTER` and `DX`/`DY`, the layout of KT3D/PyKrige answer files.
    Center,
}

/// Parses an Esri ASCII grid; nodata cells become NaN.
///
/// # Errors
/// [`GisError::Parse`] naming the line of a bad or missing header key, or the position of a
/// value that is not a number, or a wrong number of values.
pub fn parse(text: &str) -> Result<Raster<f64>, GisError> {
    let err = |message: String| GisError::Parse {
        what: "Esri ASCII grid".into(),
        message,
    };
    let mut keys: Vec<(String, f64)> = Vec::new();
    let mut rest = text;
    let mut line_no = 0;
    // Header lines start with a letter; the first line starting otherwise begins the values.
    while let Some(line) = rest.lines().next() {
        let trimmed = line.trim();
        if !trimmed.starts_with(|c: char| c.is_ascii_alphabetic()) {
            break;
        }
        line_no += 1;
        let mut parts = trimmed.split_whitespace();
        let (Some(k), Some(v), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(err(format!(
                "header line {line_no} is not `key value`: {trimmed:?}"
            )));
        };
        let v: f64 = v
            .parse()
            .map_err(|_| err(format!("header line {line_no}: {k} is not a number: {v:?}")))?;
        keys.push((k.to_ascii_lowercase(), v));
        rest = rest
            .get(line.len()..)
            .unwrap_or("")
            .trim_start_matches(['\r', '\n']);
    }
    let get = |k: &str| keys.iter().find(|(key, _)| key == k).map(|(_, v)| *v);
    let count = |k: &str| -> Result<usize, GisError> {
        let v = get(k).ok_or_else(|| err(format!("header has no {k}")))?;
        if v < 1.0 || v.fract() != 0.0 || v > 1e9 {
            return Err(err(format!("{k} must be a positive whole number, got {v}")));
        }
        Ok(v as usize)
    };
    let (cols, rows) = (count("ncols")?, count("nrows")?);
    let (dx, dy) = match (get("cellsize"), get("dx"), get("dy")) {
        (Some(c), _, _) => (c, c),
        (None, Some(dx), Some(dy)) => (dx, dy),
        _ => return Err(err("header has neither cellsize nor dx and dy".into())),
    };
    if !(dx > 0.0 && dy > 0.0) {
        return Err(err(format!("cell size must be positive, got dx={dx} dy={dy}")));
    }
    let (west, south) = match (
        get("xllcorner"),
        get("yllcorner"),
        get("xllcenter"),
        get("yllcenter"),
    ) {
        (Some(x), Some(y), _, _) => (x, y),
        (_, _, Some(x), Some(y)) => (x - dx / 2.0, y - dy / 2.0),
        _ => {
            return Err(err(
                "header has neither xllcorner/yllcorner nor xllcenter/yllcenter".into(),
            ));
        }
    };
    let nodata = get("nodata_value");
    let n = rows * cols;
    let mut data = Vec::with_capacity(n.min(text.len() / 2 + 1));
    for (i, tok) in rest.split_ascii_whitespace().enumerate() {
        if i >= n {
            // KT3D answer files end with free-text lines (PROJECTION, NOTES).
            if tok.starts_with(|c: char| c.is_ascii_alphabetic()) {
                break;
            }
            return Err(err(format!("more than nrows × ncols = {n} values")));
        }
        let v: f64 = tok.parse().map_err(|_| {
            err(format!(
                "value {i} (row {}, column {}) is not a number: {tok:?}",
                i / cols,
                i % cols
            ))
        })?;
        data.push(if Some(v) == nodata { f64::NAN } else { v });
    }
    if data.len() != n {
        return Err(err(format!(
            "{} values, but nrows × ncols = {rows} × {cols} = {n}",
            data.len()
        )));
    }
    Ok(Raster {
        geom: GridGeometry {
            cols,
            rows,
            x0: west,
            y0: south + rows as f64 * dy,
            dx,
            dy,
            crs: None,
        },
        data,
        nodata,
    })
}

/// Writes a raster as an Esri ASCII grid; NaN cells are written as `nodata` (default -9999).
pub fn write(raster: &Raster<f64>, header: Header) -> String {
    let g = &raster.geom;
    let nodata = raster.nodata.unwrap_or(-9999.0);
    let south = g.y0 - g.rows as f64 * g.dy;
    let mut out = String::with_capacity(g.len() * 12 + 200);
    // Writing to a String cannot fail.
    let _ = match header {
        Header::Corner => {
            let _ = write!(
                out,
                "ncols {}\nnrows {}\nxllcorner {}\nyllcorner {}\n",
                g.cols, g.rows, g.x0, south
            );
            if g.dx == g.dy {
                writeln!(out, "cellsize {}", g.dx)
            } else {
                writeln!(out, "dx {}\ndy {}", g.dx, g.dy)
            }
        }
        Header::Center => writeln!(
            out,
            "NCOLS {}\nNROWS {}\nXLLCENTER {}\nYLLCENTER {}\nDX {}\nDY {}",
            g.cols,
            g.rows,
            g.x0 + g.dx / 2.0,
            south + g.dy / 2.0,
            g.dx,
            g.dy
        ),
    };
    let _ = writeln!(out, "NODATA_value {nodata}");
    for row in raster.data.chunks(g.cols.max(1)) {
        let mut first = true;
        for &v in row {
            if !first {
                out.push(' ');
            }
            first = false;
            let _ = write!(out, "{}", if v.is_nan() { nodata } else { v });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn center_header_round_trips() {
        let text = "NCOLS 3\nNROWS 2\nXLLCENTER 10\nYLLCENTER 20\nDX 2\nDY 1\nNODATA_VALUE -999\n\
                    1 2 3\n4 -999 6\n";
        let r = parse(text).unwrap();
        assert_eq!((r.geom.x0, r.geom.y0), (9.0, 21.5));
        assert_eq!(r.geom.cell_center(1, 0), (10.0, 20.0));
        assert!(r.value(1, 1).is_nan());
        let back = parse(&write(&r, Header::Center)).unwrap();
        assert_eq!(back.geom, r.geom);
        assert_eq!(back.data[..4], r.data[..4]);
    }

    #[test]
    fn bad_grids_say_what_is_wrong() {
        let short = "ncols 2\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 1\n1 2 3\n";
        assert!(parse(short).unwrap_err().to_string().contains("3 values"));
        let word = "ncols 1\nnrows 1\nxllcorner 0\nyllcorner 0\ncellsize 1\n1.x\n";
        assert!(parse(word).unwrap_err().to_string().contains("row 0, column 0"));
        assert!(parse("ncols 1\n1\n").is_err());
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(s in ".{0,200}") {
            let _ = parse(&s);
        }
    }
}
