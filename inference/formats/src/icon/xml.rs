//! Parsing the iCon `.xml` with roxmltree: case-insensitive parameter names, structural validation.

use roxmltree::{Document, Node, ParsingOptions};

use super::header::{
    Component, Header, Subcomponent, SubcomponentKind, MAX_COMPONENT_HEIGHT, MAX_LINE_SIZE, MAX_SUBCOMPONENTS,
    MAX_WIDTH, MAX_XML_LEN,
};
use super::types::{GeniStreamTraits, Layout, RangeTraits, ValueType};
use super::IconError;

/// Tag-name comparison, case-insensitive.
fn is_tag(node: &Node<'_, '_>, tag: &str) -> bool {
    node.is_element() && node.tag_name().name().eq_ignore_ascii_case(tag)
}

/// Normalises a parameter name: trimmed, inner whitespace runs collapsed to one space.
fn names_match(a: &str, b: &str) -> bool {
    let mut x = a.split_whitespace();
    let mut y = b.split_whitespace();
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if p.eq_ignore_ascii_case(q) => {}
            _ => return false,
        }
    }
}

/// Text of the first `<parameter name="...">` child of `el` whose name matches, case-insensitively.
fn param<'a>(el: &Node<'a, '_>, name: &str) -> Option<&'a str> {
    el.children()
        .filter(|c| is_tag(c, "parameter"))
        .find(|c| c.attribute("name").is_some_and(|n| names_match(n, name)))
        .map(|c| c.text().unwrap_or("").trim())
}

/// A required parameter as text.
fn required<'a>(el: &Node<'a, '_>, name: &str, ctx: &str) -> Result<&'a str, IconError> {
    param(el, name).ok_or_else(|| IconError::MissingParameter { name: name.to_string(), context: ctx.to_string() })
}

fn invalid(name: &str, ctx: &str, value: &str) -> IconError {
    IconError::InvalidParameter { name: name.to_string(), context: ctx.to_string(), value: truncate(value) }
}

/// Keeps error messages short even for hostile input.
fn truncate(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// A required unsigned integer parameter within `min..=max`.
fn required_count(el: &Node<'_, '_>, name: &str, ctx: &str, min: usize, max: usize) -> Result<usize, IconError> {
    let text = required(el, name, ctx)?;
    let v: u64 = text.parse().map_err(|_| invalid(name, ctx, text))?;
    check_dim(&format!("{ctx} {name}"), v, min, max)
}

/// Checks a dimension against its limits.
pub(crate) fn check_dim(what: &str, v: u64, min: usize, max: usize) -> Result<usize, IconError> {
    if v < min as u64 || v > max as u64 {
        return Err(IconError::Dimension { what: what.to_string(), value: v, min: min as u64, max: max as u64 });
    }
    Ok(v as usize)
}

/// A required finite float parameter.
fn required_f64(el: &Node<'_, '_>, name: &str, ctx: &str) -> Result<f64, IconError> {
    let text = required(el, name, ctx)?;
    parse_f64(text).ok_or_else(|| invalid(name, ctx, text))
}

/// An optional finite float parameter; present but unparsable is an error, empty counts as absent.
fn optional_f64(el: &Node<'_, '_>, name: &str, ctx: &str) -> Result<Option<f64>, IconError> {
    match param(el, name) {
        None | Some("") => Ok(None),
        Some(text) => parse_f64(text).map(Some).ok_or_else(|| invalid(name, ctx, text)),
    }
}

fn parse_f64(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Parses and validates a whole header.
pub(crate) fn parse_header(xml: &str) -> Result<Header, IconError> {
    if xml.len() > MAX_XML_LEN {
        return Err(IconError::Dimension {
            what: ".xml length in bytes".to_string(),
            value: xml.len() as u64,
            min: 1,
            max: MAX_XML_LEN as u64,
        });
    }
    let opts = ParsingOptions { allow_dtd: false, ..ParsingOptions::default() };
    let doc = Document::parse_with_options(xml, opts).map_err(|e| IconError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if !is_tag(&root, "icon_data_format") {
        return Err(IconError::NotIcon(format!(
            "root element is <{}>, expected <icon_data_format>",
            truncate(root.tag_name().name())
        )));
    }
    let line_size = required_count(&root, "size", "root", 1, MAX_LINE_SIZE)?;
    let version = param(&root, "version").map(str::to_string);

    let mut components = Vec::new();
    let mut n_sub = 0usize;
    for c in root.children().filter(|c| is_tag(c, "component")) {
        let comp = parse_component(&c)?;
        n_sub += comp.subcomponents.len();
        if n_sub > MAX_SUBCOMPONENTS {
            return Err(IconError::Dimension {
                what: "number of subcomponents".to_string(),
                value: n_sub as u64,
                min: 1,
                max: MAX_SUBCOMPONENTS as u64,
            });
        }
        components.push(comp);
    }
    if n_sub == 0 {
        return Err(IconError::NotIcon("no <component> with a <subcomponent> under <icon_data_format>".to_string()));
    }

    let layout = match param(&root, "layout") {
        Some(l) if l.eq_ignore_ascii_case("SUBCOMPONENT") => Layout::Subcomponent,
        Some(l) if l.eq_ignore_ascii_case("SCAN") => Layout::Scan,
        Some(l) => return Err(IconError::UnknownLayout(truncate(l))),
        // With a single subcomponent both layouts are the same bytes.
        None if n_sub == 1 => Layout::Subcomponent,
        None => return Err(IconError::MissingParameter { name: "layout".to_string(), context: "root".to_string() }),
    };

    let summed: usize = components.iter().map(|c| c.size).sum();
    if summed != line_size {
        return Err(IconError::LineSize { context: "root".to_string(), declared: line_size, summed });
    }
    Ok(Header { line_size, version, layout, components })
}

fn parse_component(c: &Node<'_, '_>) -> Result<Component, IconError> {
    let name = c.attribute("name").unwrap_or("").to_string();
    let ctx = format!("component \"{}\"", truncate(&name));
    let size = required_count(c, "size", &ctx, 1, MAX_LINE_SIZE)?;
    let height = match param(c, "height") {
        None | Some("") => 1,
        Some(t) => {
            let v: u64 = t.parse().map_err(|_| invalid("height", &ctx, t))?;
            check_dim(&format!("{ctx} height"), v, 1, MAX_COMPONENT_HEIGHT)?
        }
    };

    let mut range_traits = None;
    let mut genistream = None;
    let mut subcomponents = Vec::new();
    for child in c.children().filter(Node::is_element) {
        if is_tag(&child, "worldrangetraits") && range_traits.is_none() {
            range_traits = Some(parse_world(&child)?);
        } else if is_tag(&child, "sensorrangetraits") && range_traits.is_none() {
            range_traits = Some(parse_sensor(&child)?);
        } else if is_tag(&child, "genistreamtraits") && genistream.is_none() {
            genistream = Some(parse_genistream(&child)?);
        } else if is_tag(&child, "subcomponent") {
            subcomponents.push(parse_subcomponent(&child)?);
            if subcomponents.len() > MAX_SUBCOMPONENTS {
                break; // the caller reports the count
            }
        }
    }
    let summed: usize = subcomponents.iter().map(|s| s.size).sum();
    if summed != size {
        return Err(IconError::LineSize { context: ctx, declared: size, summed });
    }
    Ok(Component {
        name,
        kind: c.attribute("valuetype").unwrap_or("").to_string(),
        size,
        height,
        range_traits,
        genistream,
        subcomponents,
    })
}

fn parse_subcomponent(s: &Node<'_, '_>) -> Result<Subcomponent, IconError> {
    let name = s.attribute("name").unwrap_or("").to_string();
    let ctx = format!("subcomponent \"{}\"", truncate(&name));
    let vt_text = s.attribute("valuetype").unwrap_or("");
    let value_type = ValueType::parse(vt_text)
        .ok_or_else(|| IconError::UnknownValueType { subcomponent: truncate(&name), value_type: truncate(vt_text) })?;
    let size = required_count(s, "size", &ctx, 1, MAX_LINE_SIZE)?;
    let width = required_count(s, "width", &ctx, 1, MAX_WIDTH)?;
    let bpv = value_type.bytes_per_value();
    if width.checked_mul(bpv) != Some(size) {
        return Err(IconError::SubcomponentSize { subcomponent: truncate(&name), size, width, bytes_per_value: bpv });
    }
    Ok(Subcomponent { kind: SubcomponentKind::from_name(&name), name, value_type, size, width })
}

fn parse_world(el: &Node<'_, '_>) -> Result<RangeTraits, IconError> {
    let ctx = "worldrangetraits";
    Ok(RangeTraits::World {
        lower_x: required_f64(el, "lower bound x", ctx)?,
        upper_x: required_f64(el, "upper bound x", ctx)?,
        lower_r: required_f64(el, "lower bound r", ctx)?,
        upper_r: required_f64(el, "upper bound r", ctx)?,
    })
}

fn parse_sensor(el: &Node<'_, '_>) -> Result<RangeTraits, IconError> {
    let ctx = "sensorrangetraits";
    let mut fov_x = [0.0; 4];
    let mut fov_z = [0.0; 4];
    for i in 0..4 {
        fov_x[i] = optional_f64(el, &format!("fov x{i}"), ctx)?.unwrap_or(0.0);
        fov_z[i] = optional_f64(el, &format!("fov z{i}"), ctx)?.unwrap_or(0.0);
    }
    Ok(RangeTraits::Sensor {
        origin_x: required_f64(el, "origin x", ctx)?,
        scale_x: required_f64(el, "scale x", ctx)?,
        origin_z: required_f64(el, "origin z", ctx)?,
        scale_z: required_f64(el, "scale z", ctx)?,
        fov_x,
        fov_z,
    })
}

fn parse_genistream(el: &Node<'_, '_>) -> Result<GeniStreamTraits, IconError> {
    let ctx = "genistreamtraits";
    let missing = match param(el, "c axis range missing") {
        None | Some("") => None,
        Some(t) if t.eq_ignore_ascii_case("true") || t == "1" => Some(true),
        Some(t) if t.eq_ignore_ascii_case("false") || t == "0" => Some(false),
        Some(t) => return Err(invalid("c axis range missing", ctx, t)),
    };
    Ok(GeniStreamTraits {
        c_scale: required_f64(el, "c axis range scale", ctx)?,
        c_offset: required_f64(el, "c axis range offset", ctx)?,
        a_scale: required_f64(el, "a axis range scale", ctx)?,
        a_offset: required_f64(el, "a axis range offset", ctx)?,
        b_scale: optional_f64(el, "b axis range scale", ctx)?,
        missing,
        missing_value: optional_f64(el, "c axis range missing value", ctx)?,
        unit: param(el, "unit").map(str::to_string),
    })
}
