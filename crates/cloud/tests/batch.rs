//! Both batch protocols over real sockets against the simulated provider, with its faults.
#![allow(clippy::unwrap_used)]

use frugal_cloud::sim::{BatchFault, Fault, SimServer};
use frugal_cloud::{BatchItem, CloudClient, CloudConfig, ItemOutcome, Kind, RemoteState, Secret, Timeouts};
use frugal_llm::{ErrorKind, Message, Request};

fn client(server: &SimServer, kind: Kind) -> CloudClient {
    let config = CloudConfig {
        name: "sim".into(),
        kind,
        base_url: server.base_url(),
        model: "m".into(),
        timeouts: Timeouts::default(),
    };
    CloudClient::new(config, Some(Secret::new("sk-batch-secret".to_string()))).unwrap()
}

fn items(n: usize) -> Vec<BatchItem> {
    (0..n)
        .map(|i| BatchItem {
            custom_id: format!("frugal-{i}"),
            request: Request::new(vec![Message::user(format!("question {i}"))]).with_max_tokens(5),
        })
        .collect()
}

fn answered(r: &frugal_cloud::BatchResults) -> usize {
    r.items.iter().filter(|(_, o)| matches!(o, ItemOutcome::Answered { .. })).count()
}

#[test]
fn each_protocol_submits_polls_and_reads_its_results() {
    for kind in [Kind::OpenAi, Kind::Anthropic] {
        let server = SimServer::start(kind).unwrap();
        server.set_batch_polls(1);
        let c = client(&server, kind);
        let batch = c.batch_submit(&items(3)).unwrap();
        assert_eq!(batch.state, RemoteState::InProgress, "{kind:?}");
        let still = c.batch_status(&batch.id).unwrap().unwrap();
        assert_eq!(still.state, RemoteState::InProgress);
        let done = c.batch_status(&batch.id).unwrap().unwrap();
        assert_eq!((done.state, done.succeeded, done.total), (RemoteState::Ended, 3, 3), "{kind:?}");
        let results = c.batch_results(&done).unwrap();
        assert!(results.problems.is_empty(), "{:?}", results.problems);
        let mut ids: Vec<&str> = results.items.iter().map(|(id, _)| id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["frugal-0", "frugal-1", "frugal-2"]);
        match &results.items[0].1 {
            ItemOutcome::Answered { text, usage, .. } => {
                assert_eq!(text.trim_end(), "1, 2, 3, 4, 5,");
                assert_eq!(usage.unwrap().completion_tokens, 5);
            }
            other => panic!("{other:?}"),
        }
        // What went over the wire: the key only in its header, never a streamed body.
        let sent = server.requests();
        assert!(sent.iter().all(|r| !r.body.contains("sk-batch-secret")));
        assert!(sent.iter().all(|r| !r.body.contains("\"stream\":true")));
    }
}

#[test]
fn expired_partly_failed_and_provider_cancelled_batches_say_which_requests_ran() {
    for kind in [Kind::OpenAi, Kind::Anthropic] {
        let server = SimServer::start(kind).unwrap();
        let c = client(&server, kind);
        for (fault, state, ran) in [
            (BatchFault::Expire, RemoteState::Expired, 2),
            (BatchFault::PartialFailure, RemoteState::Ended, 2),
            (BatchFault::CancelledByProvider, RemoteState::Cancelled, 2),
        ] {
            server.set_batch_fault(Some(fault));
            let b = c.batch_submit(&items(4)).unwrap();
            let done = c.batch_status(&b.id).unwrap().unwrap();
            assert_eq!(done.state, state, "{kind:?} {fault:?}");
            let r = c.batch_results(&done).unwrap();
            assert_eq!(r.items.len(), 4, "{kind:?} {fault:?}");
            assert_eq!(answered(&r), ran, "{kind:?} {fault:?}");
            let expected_rest = match fault {
                BatchFault::Expire => matches!(r.items[3].1, ItemOutcome::Expired),
                BatchFault::PartialFailure => {
                    matches!(r.items.iter().find(|(id, _)| id == "frugal-1").unwrap().1, ItemOutcome::Failed(_))
                }
                _ => matches!(r.items[3].1, ItemOutcome::Cancelled),
            };
            assert!(expected_rest, "{kind:?} {fault:?}: {:?}", r.items);
        }
    }
}

#[test]
fn malformed_or_cut_results_lose_only_their_lines_and_a_forgotten_batch_is_none() {
    for kind in [Kind::OpenAi, Kind::Anthropic] {
        let server = SimServer::start(kind).unwrap();
        let c = client(&server, kind);
        server.set_batch_fault(Some(BatchFault::MalformedResults));
        let b = c.batch_submit(&items(3)).unwrap();
        let r = c.batch_results(&c.batch_status(&b.id).unwrap().unwrap()).unwrap();
        assert_eq!((answered(&r), r.problems.len()), (2, 1), "{kind:?}");
        server.set_batch_fault(Some(BatchFault::CutResults));
        let b = c.batch_submit(&items(3)).unwrap();
        let r = c.batch_results(&c.batch_status(&b.id).unwrap().unwrap()).unwrap();
        assert_eq!((answered(&r), r.problems.len()), (2, 1), "{kind:?}");
        server.set_batch_fault(Some(BatchFault::Forget));
        assert!(c.batch_status(&b.id).unwrap().is_none());
        assert!(c.batch_cancel(&b.id).unwrap().is_none());
    }
}

#[test]
fn a_poll_answered_429_or_500_is_one_line_and_the_next_poll_works() {
    let server = SimServer::start(Kind::Anthropic).unwrap();
    let c = client(&server, Kind::Anthropic);
    let b = c.batch_submit(&items(2)).unwrap();
    server.push_fault(Fault::RateLimited { retry_after: 1 });
    let e = c.batch_status(&b.id).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert!(!e.message().contains('\n'));
    server.push_fault(Fault::ServerError);
    assert_eq!(c.batch_status(&b.id).unwrap_err().kind(), ErrorKind::Server);
    assert_eq!(c.batch_status(&b.id).unwrap().unwrap().state, RemoteState::Ended);
    // Cancelled by the user before it ran: every request cancelled, nothing answered.
    server.set_batch_polls(5);
    let b = c.batch_submit(&items(2)).unwrap();
    let cancelling = c.batch_cancel(&b.id).unwrap().unwrap();
    assert_eq!(cancelling.state, RemoteState::Cancelling);
    let done = c.batch_status(&b.id).unwrap().unwrap();
    assert_eq!(done.state, RemoteState::Cancelled);
    assert_eq!(answered(&c.batch_results(&done).unwrap()), 0);
}
