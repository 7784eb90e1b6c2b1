//! Which aggregate calls a support function of pg_insight's aggregates, and whether it is
//! entirely pg_insight's (api::agg_state::Keep: only then may a training state's read-write
//! pointer leave the function).

use pgrx::prelude::*;

/// Whether every support function of the aggregate calling us is one of pg_insight's C
/// functions, and it has no moving-aggregate functions. Citus's worker_partial_agg and
/// coord_combine_agg run the aggregate named by their first argument, which is what is
/// checked for them. Answers are kept per backend until pg_aggregate or pg_proc changes.
pub(crate) unsafe fn own_aggregate(fcinfo: pg_sys::FunctionCallInfo) -> bool {
    let aggref = pg_sys::AggGetAggref(fcinfo);
    if aggref.is_null() {
        return false;
    }
    match verdict((*aggref).aggfnoid) {
        Verdict::Own => true,
        Verdict::Foreign => false,
        Verdict::CitusWrapper => match citus_inner(aggref) {
            Some(inner) => verdict(inner) == Verdict::Own,
            None => false,
        },
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Verdict {
    Own,
    Foreign,
    CitusWrapper,
}

thread_local! {
    static VERDICTS: std::cell::RefCell<std::collections::HashMap<pg_sys::Oid, Verdict>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
    static LISTENING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[pg_guard]
unsafe extern "C-unwind" fn forget_verdicts(_arg: pg_sys::Datum, _cache: i32, _hash: u32) {
    VERDICTS.with(|v| v.borrow_mut().clear());
}

fn verdict(agg: pg_sys::Oid) -> Verdict {
    if !LISTENING.with(|l| l.replace(true)) {
        // SAFETY: registers a function that clears a map, once per backend
        unsafe {
            for cache in [
                pg_sys::SysCacheIdentifier::AGGFNOID,
                pg_sys::SysCacheIdentifier::PROCOID,
            ] {
                pg_sys::CacheRegisterSyscacheCallback(
                    cache as i32,
                    Some(forget_verdicts),
                    pg_sys::Datum::from(0),
                );
            }
        }
    }
    if let Some(v) = VERDICTS.with(|v| v.borrow().get(&agg).copied()) {
        return v;
    }
    // no borrow is held across the query (an invalidation during it clears the map)
    // (text: a value owned by Rust once SPI has finished)
    let row = crate::spi::select_one::<String>(
        "SELECT CASE WHEN p.proname OPERATOR(pg_catalog.=) ANY (ARRAY['worker_partial_agg', 'coord_combine_agg']::pg_catalog.name[])
                      AND p.pronamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace::pg_catalog.oid THEN 'citus'
                     WHEN a.aggmtransfn::pg_catalog.oid OPERATOR(pg_catalog.<>) 0::pg_catalog.oid
                       OR a.aggminvtransfn::pg_catalog.oid OPERATOR(pg_catalog.<>) 0::pg_catalog.oid
                       OR a.aggmfinalfn::pg_catalog.oid OPERATOR(pg_catalog.<>) 0::pg_catalog.oid THEN 'moving'
                     ELSE pg_catalog.array_to_string(ARRAY[a.aggtransfn, a.aggcombinefn, a.aggfinalfn,
                                                           a.aggserialfn, a.aggdeserialfn]::pg_catalog.oid[], ',') END
           FROM pg_catalog.pg_aggregate a JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) a.aggfnoid
          WHERE a.aggfnoid OPERATOR(pg_catalog.=) $1",
        &[agg.into()],
    );
    let v = match row.as_deref() {
        None | Some("moving") => Verdict::Foreign,
        Some("citus") => Verdict::CitusWrapper,
        Some(list) => {
            let fns: Vec<Option<u32>> = list.split(',').map(|f| f.parse().ok()).collect();
            let own = fns.first().is_some_and(|f| f.is_some_and(|f| f != 0))
                && fns.iter().all(|f| match f {
                    Some(0) => true,
                    Some(f) => ours(pg_sys::Oid::from(*f)),
                    None => false,
                });
            if own {
                Verdict::Own
            } else {
                Verdict::Foreign
            }
        }
    };
    VERDICTS.with(|m| m.borrow_mut().insert(agg, v));
    v
}

/// Whether function `f` is one of pg_insight's aggregate support functions: the C function it
/// calls is one of these.
fn ours(f: pg_sys::Oid) -> bool {
    use crate::api::aggregate as training;
    use crate::api::customer_value as value;
    let mine: [unsafe extern "C-unwind" fn(pg_sys::FunctionCallInfo) -> pg_sys::Datum; 10] = [
        training::insight_kmeans_agg_step,
        training::insight_fit_agg_step,
        training::insight_agg_combine,
        training::insight_agg_final,
        value::insight_clv_summary_step,
        value::insight_clv_summary_combine,
        value::insight_clv_summary_final,
        value::insight_rfm_step,
        value::insight_rfm_combine,
        value::insight_rfm_final,
    ];
    // SAFETY: looks a function up (loading its library, as calling it would)
    let addr = unsafe {
        let mut info = pg_sys::FmgrInfo::default();
        pg_sys::fmgr_info(f, &mut info);
        info.fn_addr
    };
    addr.is_some_and(|a| mine.iter().any(|m| *m as usize == a as usize))
}

/// The aggregate a Citus wrapper runs: its first argument, a constant oid or regprocedure.
unsafe fn citus_inner(aggref: *mut pg_sys::Aggref) -> Option<pg_sys::Oid> {
    let args = (*aggref).args;
    if args.is_null() || (*args).length < 1 {
        return None;
    }
    let te = pg_sys::list_nth(args, 0) as *mut pg_sys::TargetEntry;
    let c = (*te).expr as *mut pg_sys::Const;
    if c.is_null()
        || (*c).xpr.type_ != pg_sys::NodeTag::T_Const
        || (*c).constisnull
        || !matches!((*c).consttype, pg_sys::OIDOID | pg_sys::REGPROCEDUREOID)
    {
        return None;
    }
    Some(pg_sys::Oid::from((*c).constvalue.value() as u32))
}
