//! Writes the compile benchmark's generated route set into a directory (by
//! default 200 apis × 50 routes = 10,000 routes, with a JWKS file made for the
//! run), to time `warden check` or a reload of `warden serve` on it by hand.
//!   route_set DIR [APIS] [ROUTES_PER_API]

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: route_set DIR [APIS] [ROUTES_PER_API]")?);
    let mut number = |default: usize| match args.next() {
        Some(n) => n.parse::<usize>().map_err(|e| format!("`{n}`: {e}")),
        None => Ok(default),
    };
    let (apis, per_api) = (number(200)?, number(50)?);
    warden_e2e::bench::write_route_set(&dir, apis, per_api)?;
    println!("{}: {} routes in {apis} apis", dir.display(), apis * per_api);
    Ok(())
}
