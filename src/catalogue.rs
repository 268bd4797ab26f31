//! The feature catalogue as the job runs it: every enabled lane of the catalogue, with the
//! windows, emission interval and retention the configuration gives it.
//!
//! The configuration names SPEC's lanes (`lanes.product.windows`, `lanes.session.gap`, ...):
//! those settings apply to the catalogue lane of that name. A lane the catalogue adds has its
//! own windows or gap and the job's emission interval.

use std::sync::Arc;

use jobs::catalogue::{Catalogue, Lane, LaneKey, Windowing};
use jobs::job::CatalogueLane;
use operators::rolling::WindowSpec;
use operators::Millis;

/// Where the catalogue comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureSettings {
    /// The catalogue file; empty for the shipped one.
    pub file: String,
}

/// Windows and emission interval of one of SPEC's rolling lanes, from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaneSettings {
    /// The windows, e.g. `5m` and `1h`.
    pub windows: Vec<WindowSpec>,
    /// Emission interval in milliseconds.
    pub interval: Millis,
}

/// The session lane's settings, from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSettings {
    /// Largest gap within one session.
    pub gap: Millis,
    /// Emission interval in milliseconds.
    pub interval: Millis,
    /// How long a closed session's features stay in the store.
    pub retention: Millis,
}

/// What the configuration says of SPEC's lanes; `None` switches a lane off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfiguredLanes {
    /// `lanes.product`.
    pub product: Option<LaneSettings>,
    /// `lanes.category`.
    pub category: Option<LaneSettings>,
    /// `lanes.cart`.
    pub cart: Option<LaneSettings>,
    /// `lanes.purchase`.
    pub purchase: Option<LaneSettings>,
    /// `lanes.purchase.checkout_step`: a checkout step that also counts as an order.
    pub checkout_step: Option<u32>,
    /// `lanes.session`.
    pub session: Option<SessionSettings>,
    /// The emission interval of lanes the configuration does not name.
    pub interval: Millis,
    /// The retention of closed sessions of lanes the configuration does not name.
    pub retention: Millis,
}

impl ConfiguredLanes {
    fn rolling(&self, name: &str) -> Option<&Option<LaneSettings>> {
        Some(match name {
            "product" => &self.product,
            "category" => &self.category,
            "cart" => &self.cart,
            "purchase" => &self.purchase,
            _ => return None,
        })
    }
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

/// A lane's own windows or gap, with `interval` and `retention`.
fn own(lane: Lane, interval: Millis, retention: Millis) -> CatalogueLane {
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
        lane: Arc::new(lane),
        windows,
        gap,
        interval,
        retention,
    }
}

/// Whose windows a lane of one of SPEC's names takes: the catalogue's where it changes them
/// from the shipped ones, else the configuration's; both changed is a mistake.
fn windows_from_config(
    lane: &Lane,
    shipped: &Catalogue,
    configured: &[String],
    key: &str,
) -> Result<bool, String> {
    let Some(shipped) = shipped.lane(&lane.name) else {
        return Ok(true);
    };
    let names = |windowing: &Windowing| match windowing {
        Windowing::Rolling(windows) => windows.iter().map(|(name, _)| name.clone()).collect(),
        Windowing::Session { gap } => vec![format!("{gap}ms")],
    };
    let (catalogue, default) = (names(&lane.windowing), names(&shipped.windowing));
    match (catalogue == default, configured == default.as_slice()) {
        (true, _) => Ok(true),
        (false, true) => Ok(false),
        (false, false) => Err(format!(
            "lane `{}`: the features catalogue gives it {} and the configuration's `{key}` {}; \
             set them in one place",
            lane.name,
            catalogue.join(","),
            configured.join(",")
        )),
    }
}

/// Fails when one of `lane`'s windows is no multiple of its emission interval: a window's
/// edges must fall on emissions for its values to be exact at each.
fn check_interval(lane: &CatalogueLane) -> Result<(), String> {
    match lane.windows.iter().find(|w| w.length % lane.interval != 0) {
        Some(window) => Err(format!(
            "lane `{}`: window `{}` must be a multiple of the lane's emit interval ({} ms); \
             change the window in the features catalogue or the interval in the configuration",
            lane.lane.name, window.name, lane.interval
        )),
        None => Ok(()),
    }
}

/// The lanes the job computes: every enabled lane of `catalogue`, with the settings
/// `configured` gives SPEC's lanes. A lane the configuration switches off is left out.
pub fn plan(
    catalogue: &Catalogue,
    configured: &ConfiguredLanes,
) -> Result<Vec<CatalogueLane>, String> {
    let shipped = Catalogue::builtin().map_err(|e| format!("the shipped {e}"))?;
    let mut planned = Vec::new();
    for lane in catalogue.lanes.iter().filter(|lane| lane.enabled) {
        let mut lane = lane.clone();
        let name = lane.name.clone();
        match (configured.rolling(&name), &configured.session, lane.key) {
            (Some(settings), _, LaneKey::User) => {
                let Some(settings) = settings else { continue };
                if let (Some(step), "purchase") = (configured.checkout_step, name.as_str()) {
                    lane.count_checkout_step_as_order(step);
                }
                let names: Vec<String> = settings.windows.iter().map(|w| w.name.clone()).collect();
                let key = format!("lanes.{name}.windows");
                let from_config = windows_from_config(&lane, &shipped, &names, &key)?;
                let mut planned_lane = own(lane, settings.interval, configured.retention);
                if from_config {
                    planned_lane.windows = settings.windows.clone();
                }
                planned.push(planned_lane);
            }
            (None, session, LaneKey::Session) if name == "session" => {
                let Some(settings) = session else { continue };
                let gap = vec![format!("{}ms", settings.gap)];
                let from_config = windows_from_config(&lane, &shipped, &gap, "lanes.session.gap")?;
                let mut planned_lane = own(lane, settings.interval, settings.retention);
                if from_config {
                    planned_lane.gap = settings.gap;
                }
                planned.push(planned_lane);
            }
            _ => planned.push(own(lane, configured.interval, configured.retention)),
        }
    }
    planned.iter().try_for_each(check_interval)?;
    Ok(planned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configured(interval: Millis) -> ConfiguredLanes {
        ConfiguredLanes {
            product: None,
            category: None,
            cart: None,
            purchase: None,
            checkout_step: None,
            session: None,
            interval,
            retention: 600_000,
        }
    }

    #[test]
    fn a_catalogue_window_off_the_emission_grid_is_refused() {
        let text = "[lanes.pages]\nkey = \"user\"\nevents = [\"page_view\"]\nwindows = [\"90s\"]\n\
                    features = [{ name = \"views\", aggregation = \"count\" }]\n";
        let catalogue = Catalogue::parse(text).expect("a catalogue");
        let message = plan(&catalogue, &configured(60_000)).expect_err("90 s is off a 1 min grid");
        assert!(
            message.contains("lane `pages`") && message.contains("90s"),
            "{message}"
        );
        let planned = plan(&catalogue, &configured(30_000)).expect("on a 30 s grid");
        assert_eq!(planned[0].windows[0].length, 90_000);
    }

    #[test]
    fn a_lane_the_configuration_switches_off_is_left_out() {
        let catalogue = Catalogue::builtin().expect("the shipped catalogue");
        let planned = plan(&catalogue, &configured(1_000)).expect("plans");
        let names: Vec<&str> = planned.iter().map(|l| l.lane.name.as_str()).collect();
        assert!(names.is_empty(), "{names:?}");
    }
}
