//! SSO sessions' lifetimes (idle and absolute) and what each service provider was given.

use super::*;

#[tokio::test]
async fn a_session_ends_when_idle_and_at_its_absolute_end_however_used() {
    let w = world();
    let (browser, sid) = logged_in(&w).await;
    let browser = with_session((browser, sid));
    // Used every 50 minutes (idle lifetime 1 h), it lives on to its absolute end (8 h).
    for i in 0..9 {
        w.clock.advance(Duration::minutes(50));
        let id = format!("_use{i}");
        let hit = w.send(&browser, &id, Req::default()).await.unwrap();
        w.sp_checks(autopost(&hit), &id)
            .unwrap_or_else(|e| panic!("hit {i} at {} min: {e}", (i + 1) * 50));
    }
    // 450 minutes in: one more use at 500 minutes is past the absolute end (480).
    w.clock.advance(Duration::minutes(50));
    let late = w.send(&browser, "_late", Req::default()).await.unwrap();
    flow_of(&late);

    // Unused for longer than the idle lifetime, a fresh session ends.
    let (browser, sid) = logged_in(&w).await;
    let browser = with_session((browser, sid));
    w.clock.advance(Duration::minutes(59));
    let hit = w.send(&browser, "_i1", Req::default()).await.unwrap();
    w.sp_checks(autopost(&hit), "_i1").unwrap();
    w.clock.advance(Duration::minutes(61));
    let idle = w.send(&browser, "_i2", Req::default()).await.unwrap();
    flow_of(&idle);
}

#[tokio::test]
async fn each_service_providers_name_id_and_session_index_are_kept() {
    let w = world();
    let (browser, sid) = logged_in(&w).await;
    let parts = super::super::participations(&w.idp, &sid).await.unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].sp_entity_id, SP);
    assert_eq!(parts[0].name_id_format(), saml::NAMEID_TRANSIENT);

    // An SSO hit gives a new transient NameID: the session keeps the latest, in place.
    let browser = with_session((browser, sid.clone()));
    w.clock.advance(Duration::minutes(5));
    let hit = w.send(&browser, "_again", Req::default()).await.unwrap();
    let a = w.sp_checks(autopost(&hit), "_again").unwrap();
    let parts = super::super::participations(&w.idp, &sid).await.unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].name_id, a.name_id);
    assert_eq!(parts[0].issued_at, w.clock.now().unix_timestamp());
}
