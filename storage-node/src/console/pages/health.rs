//! Health: the admin API's `info` under the session's identity (it needs
//! `admin:ServerInfo`): servers and drives (online, offline, healing; used and free),
//! pools and erasure sets with their quorums, healing progress, and the errors drives
//! and servers report. A drive is probed when the page is asked for, so a failed drive
//! shows at the next reload.

use super::super::backend::Call;
use super::super::error::ConsoleResult;
use super::super::html::{Markup, html};
use super::{Ctx, Nav, size};
use crate::admin::types::{DriveState, Info, ServerState};
use crate::body::RespBody;
use http::{Method, Response};

fn drive_state(s: DriveState) -> &'static str {
    match s {
        DriveState::Online => "online",
        DriveState::Offline => "offline",
        DriveState::Healing => "healing",
    }
}

fn yes_no(ok: bool) -> Markup {
    if ok {
        html!("<span class=\"state-online\">yes</span>")
    } else {
        html!("<span class=\"state-offline\">no</span>")
    }
}

pub fn page_body(info: &Info) -> Markup {
    let u = &info.usage;
    let summary = html!(
        "<dl class=\"facts\" id=\"summary\"><dt>Mode</dt><dd>{}</dd><dt>Deployment</dt><dd>{}</dd>\
         <dt>Drives</dt><dd><span id=\"drives-online\">{}</span> online, \
         <span id=\"drives-offline\">{}</span> offline, {} healing, of {}</dd>\
         <dt>Raw capacity</dt><dd>{} used, {} free of {}</dd>\
         <dt>Usable capacity</dt><dd>{} free of {}</dd></dl>",
        info.mode,
        info.deployment_id.clone().unwrap_or_default(),
        u.drives_online,
        u.drives_offline,
        u.drives_healing,
        u.drives_total,
        size(u.raw_used),
        size(u.raw_free),
        size(u.raw_capacity),
        size(u.usable_free),
        size(u.usable_capacity)
    );
    let servers = Markup::concat(info.servers.iter().map(|s| {
        let state = match s.state {
            ServerState::Online => "online",
            ServerState::Offline => "offline",
        };
        html!(
            "<tr><td>{}</td><td class=\"state-{}\">{}</td><td class=\"num\">{} / {}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            s.endpoint,
            state,
            state,
            s.drives_online,
            s.drives,
            s.drives_healing,
            s.error.clone().unwrap_or_default()
        )
    }));
    let mut sets = Markup::new();
    for p in &info.pools {
        for s in &p.set_health {
            sets.push(html!(
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{} / {}</td><td>{}+{}</td>\
                 <td>{} ({} drives)</td><td>{} ({} drives)</td></tr>",
                p.index,
                s.index,
                s.drives_online,
                p.set_size,
                p.data,
                p.parity,
                yes_no(s.read_quorum),
                p.read_quorum,
                yes_no(s.write_quorum),
                p.write_quorum
            ));
        }
    }
    let drives = Markup::concat(info.drives.iter().map(|d| {
        let state = drive_state(d.state);
        html!(
            "<tr data-endpoint=\"{}\"><td>{}</td><td>{}.{}.{}</td><td class=\"state-{}\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            d.endpoint,
            d.endpoint,
            d.pool,
            d.set,
            d.position,
            state,
            state,
            size(d.used),
            size(d.free),
            size(d.total),
            d.error.clone().unwrap_or_default()
        )
    }));
    let h = &info.heal;
    let rebuilds = Markup::concat(h.drives_healing.iter().map(|d| {
        html!(
            "<li>{}: {} — {} of {} objects ({}%), {} failed</li>",
            d.endpoint,
            d.state,
            d.objects_done,
            d.objects_total,
            format!("{:.0}", d.percent),
            d.objects_failed
        )
    }));
    let task = h
        .task
        .as_ref()
        .map(|t| {
            html!(
                "<p>Latest admin heal #{}: {} ({} objects scanned, {} healed, {} failed)</p>",
                t.id,
                t.state,
                t.objects_scanned,
                t.objects_healed,
                t.objects_failed
            )
        })
        .unwrap_or_default();
    let heal = html!(
        "<dl class=\"facts\" id=\"healing\"><dt>Healing running</dt><dd>{}</dd>\
         <dt>Objects scanned / healed / failed</dt><dd>{} / {} / {}</dd>\
         <dt>Queued after partial writes</dt><dd>{}</dd><dt>Scanner running</dt><dd>{}</dd></dl>\
         <ul>{}</ul>{}",
        if h.running { "yes" } else { "no" },
        h.cluster.objects_scanned.max(h.objects_scanned),
        h.cluster.objects_healed.max(h.objects_healed),
        h.cluster.objects_failed.max(h.objects_failed),
        h.cluster.mrf_queued.max(h.mrf_queued),
        if h.scanner_running { "yes" } else { "no" },
        rebuilds,
        task
    );
    let mut problems = Markup::new();
    for s in info
        .servers
        .iter()
        .filter(|s| s.error.is_some() || s.state == ServerState::Offline)
    {
        problems.push(html!(
            "<li>Server {}: {}</li>",
            s.endpoint,
            s.error.clone().unwrap_or_else(|| "offline".to_string())
        ));
    }
    for d in info
        .drives
        .iter()
        .filter(|d| d.state == DriveState::Offline || d.error.is_some())
    {
        problems.push(html!(
            "<li>Drive {}: {} {}</li>",
            d.endpoint,
            drive_state(d.state),
            d.error.clone().unwrap_or_default()
        ));
    }
    let problems = if problems.as_str().is_empty() {
        html!("<p id=\"problems\" class=\"ok\">No server or drive reports an error.</p>")
    } else {
        html!(
            "<section aria-labelledby=\"problems-h\"><h2 id=\"problems-h\">Errors now</h2>\
             <ul id=\"problems\" class=\"error\">{}</ul></section>",
            problems
        )
    };
    html!(
        "{}{}<h2>Servers</h2><table id=\"servers\"><thead><tr><th scope=\"col\">Server</th><th scope=\"col\">State</th>\
         <th scope=\"col\">Drives online</th><th scope=\"col\">Healing</th><th scope=\"col\">Error</th></tr></thead><tbody>{}</tbody></table>\
         <h2>Erasure sets</h2><table id=\"sets\"><thead><tr><th scope=\"col\">Pool</th><th scope=\"col\">Set</th>\
         <th scope=\"col\">Drives online</th><th scope=\"col\">Data+parity</th><th scope=\"col\">Read quorum</th>\
         <th scope=\"col\">Write quorum</th></tr></thead><tbody>{}</tbody></table>\
         <h2>Drives</h2><table id=\"drives\"><thead><tr><th scope=\"col\">Drive</th><th scope=\"col\">Pool.set.position</th>\
         <th scope=\"col\">State</th><th scope=\"col\">Used</th><th scope=\"col\">Free</th><th scope=\"col\">Total</th>\
         <th scope=\"col\">Error</th></tr></thead><tbody>{}</tbody></table>\
         <h2>Healing</h2>{}",
        summary,
        problems,
        servers,
        sets,
        drives,
        heal
    )
}

/// Requests per API and the time-to-first-byte histogram of this server, as bars
/// (`<meter>`), from the counters its metrics page serves.
fn charts(stats: &super::super::backend::Stats, traffic: (u64, u64)) -> Markup {
    use crate::front::metrics::s3::TTFB_BUCKETS;
    let mut apis: Vec<(&String, u64, u64)> = stats
        .iter()
        .map(|(k, v)| (k, v.requests, v.errors_4xx + v.errors_5xx))
        .collect();
    apis.sort_by_key(|a| std::cmp::Reverse(a.1));
    apis.truncate(10);
    let most = apis.first().map_or(1, |a| a.1.max(1));
    let requests = Markup::concat(apis.iter().map(|(name, n, errors)| {
        html!(
            "<tr><th scope=\"row\">{}</th><td><meter min=\"0\" max=\"{}\" value=\"{}\" aria-label=\"{} requests\"></meter></td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            name.as_str(),
            most,
            *n,
            name.as_str(),
            *n,
            *errors
        )
    }));
    let mut buckets = [0u64; TTFB_BUCKETS.len()];
    for v in stats.values() {
        for (b, n) in buckets.iter_mut().zip(v.ttfb.iter()) {
            *b += n;
        }
    }
    let tallest = buckets.iter().copied().max().unwrap_or(0).max(1);
    let mut lower = 0.0;
    let latency = Markup::concat(buckets.iter().zip(TTFB_BUCKETS.iter()).map(|(n, upper)| {
        let label = format!("{:.0}–{:.0} ms", lower * 1000.0, upper * 1000.0);
        lower = *upper;
        html!(
            "<tr><th scope=\"row\">{}</th><td><meter min=\"0\" max=\"{}\" value=\"{}\" aria-label=\"{}\"></meter></td>\
             <td class=\"num\">{}</td></tr>",
            label.clone(),
            tallest,
            *n,
            label,
            *n
        )
    }));
    let total = (traffic.0 + traffic.1).max(1);
    let traffic = html!(
        "<h2>Traffic since start (this server)</h2><table id=\"traffic\"><tbody>\
         <tr><th scope=\"row\">Received</th><td><meter min=\"0\" max=\"{}\" value=\"{}\" aria-label=\"Bytes received\"></meter></td><td class=\"num\">{}</td></tr>\
         <tr><th scope=\"row\">Sent</th><td><meter min=\"0\" max=\"{}\" value=\"{}\" aria-label=\"Bytes sent\"></meter></td><td class=\"num\">{}</td></tr>\
         </tbody></table>",
        total,
        traffic.0,
        size(traffic.0),
        total,
        traffic.1,
        size(traffic.1)
    );
    html!(
        "{}<h2>Requests since start (this server)</h2><table id=\"requests\"><thead><tr><th scope=\"col\">API</th>\
         <th scope=\"col\">Requests</th><th scope=\"col\">Count</th><th scope=\"col\">Errors</th></tr></thead><tbody>{}</tbody></table>\
         <h2>Time to first byte</h2><table id=\"latency\"><thead><tr><th scope=\"col\">Latency</th>\
         <th scope=\"col\">Requests</th><th scope=\"col\">Count</th></tr></thead><tbody>{}</tbody></table>",
        traffic,
        requests,
        latency
    )
}

pub async fn page(ctx: &Ctx<'_>) -> ConsoleResult<Response<RespBody>> {
    let answer = ctx
        .call(Call::new(Method::GET, crate::admin::INFO_PATH))
        .await?;
    let info: Info = serde_json::from_slice(&answer.body).map_err(|e| {
        super::super::error::ConsoleError::Internal(format!("the server's info: {e}"))
    })?;
    let mut body = page_body(&info);
    // Shown to identities that may read the server's info (checked just above).
    if let Some((stats, traffic)) = ctx.console.backend.api_stats() {
        body.push(charts(&stats, traffic));
    }
    Ok(super::page(
        ctx,
        Nav::Health,
        "Health",
        html!("<p><a href=\"/health\">Refresh</a></p>{}", body),
    ))
}
