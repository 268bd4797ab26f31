//! A catalogue that uses every aggregation, filter and grouping (`tests/catalogues/`), run by
//! the job and evaluated here from scratch: the windows and sessions of SPEC section 2 (the
//! brute-force reference in `tests/reference/`), and in them each feature computed from the
//! events it covers by this file's own reading of the events, sharing nothing with the job but
//! the parsed catalogue. The job must make exactly the changes of the evaluation at every
//! emission, with late events and tied timestamps, and the same output on 1, 2 and 4 workers
//! and 2 processes.

mod reference;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use jobs::catalogue::aggregation::derived::{Derived, Op};
use jobs::catalogue::format;
use jobs::catalogue::{
    kept_fields, Aggregation, Catalogue, Feature, Input, Lane, LaneKey, Property, Test, Windowing,
};
use jobs::event::ShopperEvent;
use jobs::fields::{EntityFields, FieldValue};
use reference::{actual_changes, arrive, Changes, Settings, Values};

const BIN: &str = env!("CARGO_BIN_EXE_live-shopper");
const CATALOGUE: &str = "tests/catalogues/every_aggregation.toml";
/// The example lanes the shipped catalogue has switched off, evaluated here too.
const SHIPPED_EXAMPLES: [&str; 2] = ["checkout", "promotion"];

/// The catalogue of these tests: every aggregation, and the shipped example lanes switched on.
/// Written into `dir`, it returns its path.
fn write_catalogue(dir: &Path) -> PathBuf {
    let mut text = std::fs::read_to_string(CATALOGUE).expect("the catalogue");
    text.push_str(&shipped_examples());
    let path = dir.join("features.toml");
    std::fs::write(&path, text).expect("write the catalogue");
    path
}

/// The shipped catalogue with its example lanes switched on. Written into `dir`, it returns its
/// path.
fn write_shipped(dir: &Path) -> PathBuf {
    let mut sections = jobs::catalogue::DEFAULT_CATALOGUE.split("\n[lanes.");
    let mut text = sections.next().unwrap_or_default().to_string();
    for section in sections.filter(|s| !is_example(s)) {
        text.push_str("\n[lanes.");
        text.push_str(section);
    }
    text.push_str(&shipped_examples());
    let path = dir.join("shipped.toml");
    std::fs::write(&path, text).expect("write the catalogue");
    path
}

/// Whether a section of the shipped catalogue is one of its example lanes.
fn is_example(section: &&str) -> bool {
    SHIPPED_EXAMPLES
        .iter()
        .any(|name| section.starts_with(&format!("{name}]")))
}

/// The shipped example lanes' sections, switched on.
fn shipped_examples() -> String {
    let mut text = String::new();
    let sections = jobs::catalogue::DEFAULT_CATALOGUE
        .split("\n[lanes.")
        .skip(1);
    for section in sections.filter(is_example) {
        assert!(section.contains("enabled = false"), "{section}");
        text.push_str("\n[lanes.");
        text.push_str(&section.replacen("enabled = false", "enabled = true", 1));
    }
    text
}

/// Millionths: every number is held in them, so sums stay exact.
const SCALE: i128 = 1_000_000;

/// A value as this evaluation holds it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum V {
    Bool(bool),
    /// A number in millionths.
    Num(i128),
    Text(String),
}

/// An evaluated feature: a number as a fraction of millionths, or text.
#[derive(Clone, Debug, PartialEq)]
enum Out {
    Ratio(i128, i128),
    Bool(bool),
    Text(String),
}

impl Out {
    fn of(v: &V) -> Out {
        match v {
            V::Bool(b) => Out::Bool(*b),
            V::Num(n) => Out::Ratio(*n, SCALE),
            V::Text(t) => Out::Text(t.clone()),
        }
    }

    fn render(&self) -> String {
        match self {
            Out::Ratio(n, d) => format::decimal_ratio(*n, *d),
            Out::Bool(b) => b.to_string(),
            Out::Text(t) => t.clone(),
        }
    }

    fn ratio(&self) -> Option<(i128, i128)> {
        match self {
            Out::Ratio(n, d) => Some((*n, *d)),
            _ => None,
        }
    }
}

/// The property `p` of `e`, read here: the named ones by their name, any other entity field
/// from the fields the parser kept.
fn property(p: Property, e: &ShopperEvent) -> Option<V> {
    let text = |s: &Option<String>| s.clone().map(V::Text);
    let money = |p: Option<jobs::event::Price>| p.map(|p| V::Num(p.0 as i128));
    let product = e.products.first();
    if let Property::Field(field) = p {
        let (_, value) = e.fields.iter().find(|(slot, _)| *slot == field.slot)?;
        return Some(match value {
            FieldValue::Text(t) => V::Text(t.clone()),
            FieldValue::Number(n) => V::Num(n.0 as i128),
            FieldValue::Bool(b) => V::Bool(*b),
        });
    }
    match p.name() {
        "event" => Some(V::Text(e.kind.as_str().to_string())),
        "time" => Some(V::Num(e.time as i128 * SCALE)),
        "user" => Some(V::Text(e.user.clone())),
        "session" => text(&e.session),
        "product.id" => product.map(|p| V::Text(p.id.clone())),
        "product.name" => product.and_then(|p| text(&p.name)),
        "product.category" => product.and_then(|p| text(&p.category)),
        "product.brand" => product.and_then(|p| text(&p.brand)),
        "product.variant" => product.and_then(|p| text(&p.variant)),
        "product.price" => money(product.and_then(|p| p.price)),
        "list_name" => text(&e.list_name),
        "cart.total_value" => money(e.cart_total),
        "transaction.revenue" => money(e.revenue),
        "checkout_step.step" => e.checkout_step.map(|s| V::Num(s as i128 * SCALE)),
        "promotion.id" => e.promotion.as_ref().map(|p| V::Text(p.id.clone())),
        "promotion.name" => e.promotion.as_ref().and_then(|p| text(&p.name)),
        "page.is_search" => Some(V::Bool(e.is_search)),
        "page.url" => text(&e.page_url),
        "mkt_campaign" => text(&e.campaign),
        "device_class" => text(&e.device_class),
        "platform" => text(&e.platform),
        "geo_country" => text(&e.country),
        "geo_region" => text(&e.region),
        "location" => e
            .country
            .as_ref()
            .map(|c| V::Text(format!("{c}/{}", e.region.as_deref().unwrap_or("")))),
        other => panic!("no property {other}"),
    }
}

/// A constant of the catalogue as this evaluation holds it.
fn constant(input: &Input) -> V {
    match input {
        Input::Bool(b) => V::Bool(*b),
        Input::Text(t) => V::Text(t.clone()),
        Input::Number(n) => {
            let (num, den) = n.parts();
            V::Num(num * SCALE / den)
        }
    }
}

fn column(lane: &Lane, index: Option<usize>, e: &ShopperEvent) -> Option<V> {
    let column = &lane.columns[index?];
    let (_, p) = column
        .sources
        .iter()
        .find(|(on, _)| on.as_ref().is_none_or(|on| *on == e.kind))?;
    property(*p, e)
}

fn meets(criteria: &[jobs::catalogue::Criterion], e: &ShopperEvent) -> bool {
    criteria.iter().all(|c| {
        if c.on.as_ref().is_some_and(|on| *on != e.kind) {
            return true;
        }
        let value = property(c.property, e);
        match &c.test {
            Test::IsSet(set) => value.is_some() == *set,
            Test::OneOf(values) => value.is_some_and(|v| values.iter().any(|c| constant(c) == v)),
        }
    })
}

fn takes(lane: &Lane, e: &ShopperEvent) -> bool {
    (lane.key == LaneKey::User || e.session.is_some())
        && lane.events.contains(&e.kind)
        && lane.require.iter().all(|c| {
            c.sources
                .iter()
                .find(|(on, _)| on.as_ref().is_none_or(|on| *on == e.kind))
                .is_some_and(|(_, p)| property(*p, e).is_some())
        })
        && meets(&lane.criteria, e)
}

fn counts(feature: &Feature, e: &ShopperEvent) -> bool {
    feature
        .filter
        .events
        .as_ref()
        .is_none_or(|events| events.contains(&e.kind))
        && meets(&feature.filter.criteria, e)
}

fn sum(values: &[V]) -> i128 {
    values
        .iter()
        .map(|v| if let V::Num(n) = v { *n } else { 0 })
        .sum()
}

/// One feature over `events` (sorted, in the window or session), from scratch.
fn aggregate(
    lane: &Lane,
    feature: &Feature,
    events: &[&ShopperEvent],
    earlier: &[Option<Out>],
) -> Option<Out> {
    let counted: Vec<&&ShopperEvent> = events.iter().filter(|e| counts(feature, e)).collect();
    let values: Vec<Option<V>> = counted
        .iter()
        .map(|e| column(lane, feature.column, e))
        .collect();
    let present: Vec<V> = values.iter().flatten().cloned().collect();
    let count = |n: usize| Some(Out::Ratio(n as i128 * SCALE, SCALE));
    match &feature.aggregation {
        Aggregation::Count if feature.column.is_some() => count(present.len()),
        Aggregation::Count => count(counted.len()),
        Aggregation::Sum => Some(Out::Ratio(sum(&present), SCALE)),
        Aggregation::Min => present.iter().min().map(Out::of),
        Aggregation::Max => present.iter().max().map(Out::of),
        Aggregation::Mean if present.is_empty() => None,
        Aggregation::Mean => Some(Out::Ratio(sum(&present), SCALE * present.len() as i128)),
        Aggregation::DistinctCount => count(present.iter().collect::<BTreeSet<_>>().len()),
        Aggregation::DistinctList => {
            let items: Vec<String> = present.iter().map(|v| Out::of(v).render()).collect();
            Some(Out::Text(format::string_list(
                items.iter().map(String::as_str),
            )))
        }
        Aggregation::First { every_event: true } => values.first()?.as_ref().map(Out::of),
        Aggregation::Latest { every_event: true } => values.last()?.as_ref().map(Out::of),
        Aggregation::First { .. } => present.first().map(Out::of),
        Aggregation::Latest { .. } => present.last().map(Out::of),
        Aggregation::MostFrequent => {
            let mut tally: BTreeMap<&V, usize> = BTreeMap::new();
            for v in &present {
                *tally.entry(v).or_default() += 1;
            }
            let top = tally.values().max()?;
            tally
                .iter()
                .find(|(_, n)| *n == top)
                .map(|(v, _)| Out::of(v))
        }
        Aggregation::GroupsAtLeast(n) => {
            let mut groups: BTreeMap<V, u64> = BTreeMap::new();
            for e in &counted {
                if let Some(g) = column(lane, feature.group, e) {
                    *groups.entry(g).or_default() += 1;
                }
            }
            count(groups.values().filter(|c| **c >= *n).count())
        }
        Aggregation::MeanOfEarliest => {
            let mut earliest: BTreeMap<V, Option<V>> = BTreeMap::new();
            for (e, v) in counted.iter().zip(&values) {
                if let Some(g) = column(lane, feature.group, e) {
                    earliest.entry(g).or_insert_with(|| v.clone());
                }
            }
            let firsts: Vec<V> = earliest.into_values().flatten().collect();
            (!firsts.is_empty()).then(|| Out::Ratio(sum(&firsts), SCALE * firsts.len() as i128))
        }
        Aggregation::Changes => count(present.windows(2).filter(|w| w[0] != w[1]).count()),
        Aggregation::Derived(derived) => derive(derived, earlier),
    }
}

fn derive(derived: &Derived, earlier: &[Option<Out>]) -> Option<Out> {
    let ratio = |i: usize| earlier[i].as_ref()?.ratio();
    match derived {
        Derived::Ratio {
            of: (a, b),
            when_zero,
        } => {
            let ((an, ad), (bn, bd)) = (ratio(*a)?, ratio(*b)?);
            if bn == 0 {
                return when_zero.map(|z| {
                    let (n, d) = z.parts();
                    Out::Ratio(n, d)
                });
            }
            Some(Out::Ratio(an * bd, ad * bn))
        }
        Derived::Difference(a, b) => {
            let ((an, ad), (bn, bd)) = (ratio(*a)?, ratio(*b)?);
            Some(Out::Ratio(an * bd - bn * ad, ad * bd))
        }
        Derived::Range(a, b) => {
            let (a, b) = (earlier[*a].as_ref()?, earlier[*b].as_ref()?);
            Some(Out::Text(format!("{}-{}", a.render(), b.render())))
        }
        Derived::Compare { of, op, than } => {
            let ordering = match (earlier[*of].as_ref()?, constant(than)) {
                (Out::Ratio(n, d), V::Num(c)) => (n * SCALE).cmp(&(c * d)),
                (Out::Text(t), V::Text(c)) => t.as_str().cmp(c.as_str()),
                (Out::Bool(b), V::Bool(c)) => b.cmp(&c),
                _ => return None,
            };
            use std::cmp::Ordering::*;
            let holds = match op {
                Op::Eq => ordering == Equal,
                Op::Ne => ordering != Equal,
                Op::Lt => ordering == Less,
                Op::Le => ordering != Greater,
                Op::Gt => ordering == Greater,
                Op::Ge => ordering != Less,
            };
            Some(Out::Bool(holds))
        }
    }
}

/// Every written feature of `lane` over `events`, keyed by `key(feature)`.
fn evaluate(lane: &Lane, events: &[&ShopperEvent], key: impl Fn(&str) -> String) -> Values {
    let mut sorted = events.to_vec();
    sorted.sort_by_key(|e| (e.time, e.event_id));
    let mut values: Vec<Option<Out>> = Vec::new();
    for feature in &lane.features {
        let value = aggregate(lane, feature, &sorted, &values);
        values.push(value);
    }
    let mut out = Values::new();
    for (feature, value) in lane.features.iter().zip(values) {
        if let (true, Some(v)) = (feature.output, value) {
            out.insert(key(&feature.name), v.render());
        }
    }
    out
}

fn expected(
    catalogue: &Catalogue,
    events: Vec<ShopperEvent>,
    settings: &Settings,
    last: u64,
) -> Changes {
    let arrived = arrive(events, settings);
    let unique = reference::unique(&arrived);
    let mut changes = Changes::new();
    for lane in &catalogue.lanes {
        let member = |e: &ShopperEvent| takes(lane, e);
        match &lane.windowing {
            Windowing::Rolling(windows) => {
                let features = |user: &str, window: &str, events: &[&ShopperEvent]| {
                    if events.is_empty() {
                        return Values::new();
                    }
                    evaluate(lane, events, |f| format!("user:{user}:{f}_{window}"))
                };
                reference::rolling_changes(
                    &unique,
                    &member,
                    windows,
                    &features,
                    settings,
                    last,
                    &mut changes,
                );
            }
            Windowing::Session { gap } => {
                let settings = Settings {
                    gap: *gap,
                    ..settings.clone()
                };
                let features = |sid: &str, run: &[&ShopperEvent]| {
                    evaluate(lane, run, |f| format!("session:{sid}:{f}"))
                };
                reference::session_changes(
                    &unique,
                    &member,
                    &features,
                    &settings,
                    last,
                    &mut changes,
                );
            }
        }
    }
    changes
}

fn settings() -> Settings {
    Settings {
        product: Vec::new(),
        category: Vec::new(),
        cart: Vec::new(),
        purchase: Vec::new(),
        interval: 1_000,
        gap: 600_000,
        lateness: 5_000,
    }
}

fn run(dir: &Path, catalogue: &Path, input: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let output = dir.join(format!("{name}.jsonl"));
    let status = Command::new(BIN)
        .args(["run", "--features"])
        .arg(catalogue)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(&output)
        .arg("--set")
        .arg(format!(
            "output.bad_rows_file={}",
            dir.join(format!("{name}.bad")).display()
        ))
        .args(["--set", "checkpoint.interval=0"])
        .args(extra)
        .status()
        .expect("run the job");
    assert!(status.success(), "{name}: the job failed");
    output
}

/// The events of `records`, keeping `fields`; none of them is a bad row.
fn parse(records: &[live_shopper::generate::Record], fields: &EntityFields) -> Vec<ShopperEvent> {
    let limits = jobs::parse::Limits::default();
    let (mut events, mut bad) = (Vec::new(), Vec::new());
    for record in records {
        jobs::parse::parse_record_keeping(&record.bytes, &limits, fields, &mut events, &mut bad);
    }
    assert!(bad.is_empty(), "bad rows: {:?}", &bad[..bad.len().min(3)]);
    events
}

/// With events 3 minutes late (past the 1 minute window, inside the 5 minute one, inside the
/// session gap) and timestamps on a 5 s grain, read one record at a time by one worker.
#[test]
fn every_aggregation_matches_its_evaluation_at_every_emission() {
    matches_at_every_emission(write_catalogue);
}

/// The shipped catalogue (its example lanes switched on), evaluated the same way.
#[test]
fn the_shipped_catalogue_matches_its_evaluation_at_every_emission() {
    matches_at_every_emission(write_shipped);
}

fn matches_at_every_emission(write: fn(&Path) -> PathBuf) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut options = support::shop_options(12_000, 120, 0.0);
    options.promotions = 0.3;
    options.span_ms = 3 * 3_600_000;
    options.disorder_ms = 3_000;
    options.time_grain_ms = 5_000;
    options.late_rate = 0.02;
    options.late_ms = 180_000;
    let records = support::shop(options);
    let input = dir.path().join("shop.tsv");
    support::write_records(&records, &input);
    let catalogue = write(dir.path());
    let output = run(
        dir.path(),
        &catalogue,
        &input,
        "w1",
        &["--set", "source.batch_size=1"],
    );

    let text = std::fs::read_to_string(&catalogue).expect("the catalogue");
    let mut catalogue = Catalogue::parse(&text).expect("a valid catalogue");
    for name in SHIPPED_EXAMPLES {
        assert!(catalogue.lane(name).is_some_and(|l| l.enabled), "{name}");
    }
    let fields = kept_fields(catalogue.lanes.iter_mut().filter(|l| l.enabled));
    let events = parse(&records, &fields);
    let last = events
        .iter()
        .map(|e| e.time)
        .max()
        .expect("events")
        .div_ceil(1_000)
        * 1_000;
    let expected = expected(&catalogue, events, &settings(), last);
    let actual = actual_changes(&std::fs::read_to_string(&output).expect("the output"));
    let missing: Vec<_> = expected
        .iter()
        .filter(|(k, v)| actual.get(k) != Some(v))
        .take(10)
        .collect();
    let extra: Vec<_> = actual
        .iter()
        .filter(|(k, v)| expected.get(k) != Some(v))
        .take(10)
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} expected changes, {} actual\nexpected, not written: {missing:#?}\nwritten, not expected: {extra:#?}",
        expected.len(),
        actual.len()
    );
    // Every feature of the catalogue got a value somewhere, and windows emptied.
    for lane in &catalogue.lanes {
        for feature in lane.features.iter().filter(|f| f.output) {
            let named = format!(":{}", feature.name);
            assert!(
                expected.keys().any(|(_, k)| k.contains(&named)),
                "no value of {} in lane {}",
                feature.name,
                lane.name
            );
        }
    }
    assert!(expected.values().any(Option::is_none), "no window emptied");
}

/// The same catalogue on 1, 2 and 4 workers and 2 processes: the same output.
#[test]
fn every_aggregation_is_the_same_on_any_number_of_workers_and_processes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut options = support::shop_options(12_000, 200, 0.0);
    options.promotions = 0.3;
    options.span_ms = 3_600_000;
    let records = support::shop(options);
    let input = dir.path().join("shop.tsv");
    support::write_records(&records, &input);
    let read = |p: PathBuf| std::fs::read(p).expect("an output");
    let catalogue = write_catalogue(dir.path());
    let one = read(run(dir.path(), &catalogue, &input, "w1", &["-w", "1"]));
    assert!(!one.is_empty());
    for workers in ["2", "4"] {
        let other = read(run(
            dir.path(),
            &catalogue,
            &input,
            &format!("w{workers}"),
            &["-w", workers],
        ));
        assert!(one == other, "{workers} workers differ from 1");
    }
    let hostfile = dir.path().join("hosts");
    let hosts = format!(
        "127.0.0.1:{}\n127.0.0.1:{}\n",
        support::free_port(),
        support::free_port()
    );
    std::fs::write(&hostfile, hosts).expect("the hostfile");
    let output = dir.path().join("p2.jsonl");
    let spawn = |process: &str| {
        Command::new(BIN)
            .args(["run", "--features"])
            .arg(&catalogue)
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&output)
            .arg("--set")
            .arg(format!(
                "output.bad_rows_file={}",
                dir.path().join("p2.bad").display()
            ))
            .args(["--set", "checkpoint.interval=0"])
            .args(["-w", "2", "-n", "2", "-p", process, "-h"])
            .arg(&hostfile)
            .spawn()
            .expect("start a process")
    };
    let mut second = spawn("1");
    let mut first = spawn("0");
    assert!(
        first.wait().expect("process 0").success(),
        "process 0 failed"
    );
    assert!(
        second.wait().expect("process 1").success(),
        "process 1 failed"
    );
    assert!(one == read(output), "2 processes differ from 1 worker");
}
