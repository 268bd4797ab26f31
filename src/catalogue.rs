//! The feature catalogue as the job runs it: which lanes the compiled code computes and which
//! the generic aggregations do.
//!
//! The five lanes of the shipped catalogue (`config/features.toml`) have compiled counterparts
//! (`jobs/src/features/`), tested equal to them, which are faster. A lane of the catalogue runs
//! on its compiled counterpart when it is the shipped one unchanged; a lane a catalogue changes
//! or adds runs on the generic aggregations. The windows of the shipped lanes' names come from
//! the configuration (`lanes.<name>.windows`, `lanes.session.gap`), as they always have; a new
//! lane has its own.

use std::sync::Arc;

use jobs::catalogue::{Catalogue, Lane, LaneKey, Windowing};
use jobs::job::{CatalogueLane, JobSettings, LaneSettings};
use operators::rolling::WindowSpec;
use operators::Millis;

/// What the configuration says of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureSettings {
    /// The catalogue file; empty for the shipped one.
    pub file: String,
    /// Run every lane on the generic aggregations, the shipped ones included.
    pub generic: bool,
}

/// Reads the catalogue the settings name.
pub fn load(settings: &FeatureSettings) -> Result<Catalogue, String> {
    if settings.file.is_empty() {
        return Catalogue::builtin().map_err(|e| format!("the shipped {e}"));
    }
    let text = std::fs::read_to_string(&settings.file).map_err(|e| {
        format!(
            "cannot read the features catalogue {} (features.file, --features): {e}",
            settings.file
        )
    })?;
    Catalogue::parse(&text).map_err(|e| format!("{}: {e}", settings.file))
}

/// Whether two lanes compute the same, whatever their windows.
fn same_features(a: &Lane, b: &Lane) -> bool {
    let mut a = a.clone();
    a.windowing = b.windowing.clone();
    a == *b
}

/// The settings of a new lane: its own windows or gap, the job's emit interval.
fn own(lane: Arc<Lane>, interval: Millis, retention: Millis) -> CatalogueLane {
    let (windows, gap) = match &lane.windowing {
        Windowing::Rolling(windows) => (
            windows
                .iter()
                .map(|(name, length)| WindowSpec {
                    name: name.clone(),
                    length: *length,
                })
                .collect(),
            0,
        ),
        Windowing::Session { gap } => (Vec::new(), *gap),
    };
    CatalogueLane {
        lane,
        windows,
        gap,
        interval,
        retention,
    }
}

/// Decides, lane by lane, what computes `catalogue`: compiled lanes stay in `job`, the others
/// go to `job.catalogue`; a shipped lane the catalogue leaves out is switched off.
/// `interval` and `retention` are the settings of lanes the configuration does not name.
pub fn plan(
    catalogue: &Catalogue,
    settings: &FeatureSettings,
    job: &mut JobSettings,
    interval: Millis,
    retention: Millis,
) -> Result<(), String> {
    let shipped = Catalogue::builtin().map_err(|e| format!("the shipped {e}"))?;
    let mut planned = JobSettings {
        product: None,
        category: None,
        cart: None,
        purchase: None,
        session: None,
        catalogue: Vec::new(),
        ..job.clone()
    };
    for lane in catalogue.lanes.iter().filter(|lane| lane.enabled) {
        let compiled = !settings.generic
            && shipped
                .lane(&lane.name)
                .is_some_and(|s| same_features(s, lane));
        let arc = Arc::new(lane.clone());
        match (lane.name.as_str(), lane.key) {
            ("session", LaneKey::Session) => {
                let Some(session) = job.session.clone() else {
                    continue;
                };
                if compiled {
                    planned.session = Some(session);
                } else {
                    let mut generic = own(arc, session.interval, session.retention);
                    generic.gap = session.gap;
                    planned.catalogue.push(generic);
                }
            }
            (name @ ("product" | "category" | "cart" | "purchase"), LaneKey::User) => {
                let Some(config) = rolling(job, name).clone() else {
                    continue;
                };
                if compiled {
                    *rolling(&mut planned, name) = Some(config);
                    continue;
                }
                if name == "purchase" && job.purchase_checkout_step.is_some() {
                    return Err(
                        "lanes.purchase.checkout_step works only with the shipped purchase lane \
                         on its compiled code, and here the catalogue changes that lane or \
                         features.generic is on: set lanes.purchase.checkout_step = 0"
                            .into(),
                    );
                }
                planned.catalogue.push(CatalogueLane {
                    windows: config.windows.clone(),
                    ..own(arc, config.interval, retention)
                });
            }
            _ => planned.catalogue.push(own(arc, interval, retention)),
        }
    }
    *job = planned;
    Ok(())
}

fn rolling<'a>(job: &'a mut JobSettings, name: &str) -> &'a mut Option<LaneSettings> {
    match name {
        "product" => &mut job.product,
        "category" => &mut job.category,
        "cart" => &mut job.cart,
        _ => &mut job.purchase,
    }
}
