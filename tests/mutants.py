"""Mutation check of the safety net: deleting any one guard of issue 21's promises must fail a test (issue 24).

Each Mutant names a guard by its exact source text, found in whichever module of shared/dwtrigger holds it (a module
that moves keeps its mutants; a guard rewritten or renamed fails the run instead of being skipped), the edit that
breaks it (removed, flipped, or a permissive value) and the tests that must catch it (their ids are in TESTS, one
place to update). The tree is copied to a temporary directory; for each mutant the edit is made in the copy,
only its tests run there (-x), and the copy's module is restored: the working tree is never touched.

    python tests/mutants.py [--only NAME ...] [--list] [--jobs N]        (or: make mutants)

It first runs every test named once, unmutated: a test that fails then proves nothing. Mutants run --jobs at once
(2 by default: the cores CI has), each job in a copy of the tree of its own. Exit 0 when every mutant was caught; 1
when one survived, a guard's text is not found exactly once, a test named is not defined where TESTS says, a mutant
does not import, or a test fails unmutated. `--list` checks the wiring alone, in a second (test_mutants runs it in
the suite). Not a test module (pytest collects test_*.py only).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
SEARCHED = ("shared/dwtrigger", "deploy")         # where guards are looked for
TIMEOUT_S = 300          # one mutant's tests; a mutant that hangs them past this is reported as caught by the hang

# The tests the mutants name, by a short name: a test renamed or moved is updated here only.
TESTS: Dict[str, str] = {
    "unknown_resent": "test_ledger.py::test_a_trigger_without_an_answer_is_recorded_unknown_and_sent_again_once_it_did_"
                      "not_land",
    "cut_retried": "test_ledger.py::test_a_trigger_the_deadline_cut_is_failed_not_done_and_the_retry_reads_dataworks",
    "any_shape": "test_ledger.py::test_a_claim_of_any_shape_is_never_a_traceback_nor_a_wedge",
    "landed_recorded": "test_ledger.py::test_a_trigger_that_landed_without_an_answer_is_recorded_sent_once_the_"
                       "retry_s_look_up_shows_it_ran",
    "claimed_until": "test_ledger.py::test_a_send_is_claimed_before_and_recorded_after",
    "dies_mid_send": "test_ledger.py::test_a_process_that_dies_between_claim_and_send_leaves_a_claim_fc_s_retry_releases",
    "stale_looked_past": "test_ledger.py::test_a_claim_that_goes_stale_while_waited_for_is_looked_past_after_a_new_look_"
                         "up",
    "in_flight_final": "test_ledger.py::test_a_claim_in_flight_is_waited_for_and_its_accepted_send_is_final",
    "grace": "test_ledger.py::test_a_send_after_our_look_up_stops_ours_one_before_it_does_not",
    "hold_stands": "test_ledger.py::test_a_hold_stands_while_the_instance_waits_on_its_parents",
    "lookup_beats_hold": "test_ledger.py::test_a_hold_the_look_up_contradicts_does_not_stop_a_new_event",
    "claim_names": "test_ledger.py::test_a_claim_name_that_is_almost_a_number_or_a_huge_one_wedges_nothing",
    "token": "test_ledger_claims.py::test_a_claim_whose_answer_was_lost_is_known_by_its_token_on_the_retry",
    "ten_seconds": "test_ledger_claims.py::test_a_claim_that_never_settles_is_waited_for_ten_seconds_at_most",
    "batch_overtime": "test_faults.py::test_a_delivery_larger_than_the_deadline_allows_ends_before_the_timeout",
    "no_attempt_late": "test_faults.py::test_no_attempt_starts_that_could_not_finish_before_the_deadline",
    "no_oss_call_late": "test_faults.py::test_no_oss_call_starts_that_could_not_finish_before_the_deadline",
    "dead_endpoint_share": "test_faults.py::test_a_batch_record_whose_endpoint_never_answers_costs_the_others_nothing",
    "huge_batch": "test_relay.py::test_a_huge_batch_stops_at_the_deadline_and_leaves_the_rest_unread",
    "memory_vs_ready": "test_relay.py::test_a_remembered_hold_does_not_stop_a_send_the_look_up_shows_is_needed",
    "memory_of_hold": "test_relay.py::test_an_fc_instance_without_a_ledger_remembers_a_trigger_dataworks_holds",
    "hold_ttl": "test_recent.py::test_a_held_trigger_is_remembered_until_its_hold_ends",
    "lazy_batch": "test_hostile.py::test_a_batch_of_a_hundred_thousand_records_ends_inside_the_function_s_timeout",
    "stream_dating": "test_rules_in_play.py::test_a_stream_message_names_the_same_instance_on_every_delivery_or_is_"
                     "refused",
    "pace": "test_sweep.py::test_the_sweep_s_pace_never_sleeps_past_the_deadline",
    "sweep_stop": "test_sweep.py::test_a_run_the_deadline_stops_says_what_it_did_not_look_at",
    "overdue_at_by": "test_sweep.py::test_no_evidence_is_overdue_from_by_on_and_not_before",
    "no_ledger_held": "test_sweep.py::test_without_a_ledger_a_held_trigger_is_not_sent_again_on_every_run",
    "ledger_done": "test_sweep.py::test_the_sweep_asks_dataworks_nothing_for_what_the_ledger_knows_is_done",
    "overdue_unasked": "test_sweep.py::test_overdue_is_said_when_dataworks_cannot_be_asked",
    "lost_event": "test_sweep.py::test_a_file_whose_event_never_arrived_is_released_by_the_sweep",
    "overdue_ran": "test_sweep.py::test_overdue_is_not_said_of_an_instance_released_by_hand_even_without_a_ledger",
    "overdue_outage": "test_sweep.py::test_overdue_lines_come_through_an_outage_of_one_endpoint",
    "rotation": "test_sweep.py::test_runs_the_deadline_cuts_short_take_turns_so_every_rule_is_released",
    "same_captures": "test_sweep.py::test_the_sweep_takes_each_key_s_captures_for_its_require_entries",
    "timer_require": "test_sweep.py::test_a_timer_rule_s_require_holds_the_sweep_back_as_it_holds_the_timer",
    "urls": "test_redact.py::test_server_text_is_kept_without_its_urls",
    "session_tokens": "test_redact.py::test_session_tokens_in_any_spelling_are_removed",
    "region": "test_rules.py::test_a_region_is_a_region_id_not_a_host",
    "expect_removal": "test_rules.py::test_expect_needs_evidence_the_sweep_can_find",
    "sweep_qps": "test_settings.py::test_a_sweep_pace_out_of_range_is_refused_when_the_function_starts",
    "asked_evidence": "test_ledger.py::test_a_timer_event_is_the_evidence_the_sweep_releases_from",
    "unrecorded_send": "test_ledger.py::test_a_send_the_ledger_could_not_record_is_still_a_release_and_the_next_"
                       "delivery_reads_dataworks",
    "one_of_two": "test_sweep.py::test_two_concurrent_deliveries_with_a_ledger_send_exactly_one_trigger",
    "meanwhile_outdated": "test_relay.py::test_a_delivery_during_the_backoff_looks_past_the_listing_a_trigger_"
                          "without_an_answer_outdated",
    "retry_after_no_answer": "test_relay.py::test_a_retry_after_a_trigger_without_an_answer_looks_again_whatever_"
                             "listing_came_meanwhile",
    "whichever_rule": "test_relay.py::test_a_listing_no_longer_speaks_for_an_instance_triggered_since_whichever_rule_"
                      "asks",
    "retry_fresh_no_ledger": "test_relay.py::test_without_a_ledger_a_retry_looks_again_for_nothing_holds_the_instance_"
                             "through_the_backoff",
    "retry_shared_ledger": "test_relay.py::test_a_trigger_refused_for_the_quota_is_retried_on_the_listing_of_a_moment_"
                           "ago_under_its_claim",
    "listing_old": "test_relay.py::test_transient_failures_are_retried_with_a_fresh_lookup_once_the_listing_is_old",
    "one_look_up": "test_relay.py::test_a_batch_naming_one_instance_n_times_makes_one_look_up_and_one_trigger",
    "hours_share": "test_relay.py::test_the_hours_of_one_day_share_one_look_up_and_each_is_triggered",
    "whatever_listing": "test_relay.py::"
                        "test_a_retry_after_a_trigger_without_an_answer_looks_again_whatever_listing_came_meanwhile",
    "tasks_share": "test_relay.py::test_an_events_nodes_in_one_workspace_share_one_listing_where_the_api_lists_several",
    "tasks_own": "test_relay.py::"
                 "test_a_node_with_no_instance_in_a_shared_listing_is_not_found_and_its_reason_counts_only_its_own",
    "listing_unit": "test_recent.py::test_a_listing_answers_for_fresh_s_and_never_for_an_instance_sent_a_trigger_"
                    "since",
    "budgets_apart": "test_pacing.py::test_reads_and_writes_have_budgets_of_their_own",
    "slow_start_exit": "test_pacing.py::test_a_throttle_while_still_doubling_takes_the_rate_back_to_the_second_before",
    "throttled_kind": "test_pacing.py::test_a_throttled_call_slows_its_kind_of_call_of_the_fc_instance_that_made_it_"
                      "not_the_other",
    "ledger_seen": "test_ledger.py::test_a_redelivery_to_another_fc_instance_answers_from_what_the_ledger_saw_lately",
    "seen_ahead": "test_ledger.py::test_what_the_ledger_saw_is_answered_from_within_the_grace_ahead_of_this_clock_and_"
                  "never_further",
    "margin": "test_retry.py::test_an_invocation_ends_a_tenth_of_fc_s_timeout_before_it_between_half_a_second_and_three",
    "within": "test_relay.py::test_a_piece_of_work_s_budget_never_outlives_the_invocation_s",
    "landed": "test_faults.py::test_a_trigger_that_landed_after_its_read_timeout_is_not_sent_again",
    "one_level": "test_oss_port.py::test_a_last_segment_wildcard_is_one_listing_of_its_directory_whatever_lies_below",
    "fan_out": "test_oss_port.py::test_the_fan_out_bound_refuses_a_walk_rather_than_cut_it_short",
    "repeated_token": "test_oss_port.py::test_paging_that_repeats_a_token_is_refused",
    "listed_directory": "test_oss_port.py::test_a_common_prefix_outside_the_directory_listed_is_refused",
    "socks": "test_wire.py::test_a_socks_proxy_is_refused_and_never_dialled",
    "explain_disabled": "test_cli.py::test_explain_names_a_disabled_rule_that_would_match_and_exits_1_when_only_it_would",
    "replay_failed_out": "test_cli.py::test_replay_failed_out_keeps_every_record_that_did_not_succeed",
    "replay_untried": "test_reach.py::test_replay_of_500_dead_letters_stops_after_three_refused_attempts_and_keeps_every_"
                      "record",
    "wiring_disabled": "test_deploy.py::test_a_trigger_kept_for_a_disabled_rule_is_a_warning_naming_it_and_the_rule_"
                       "needs_none",
    "replay_failed": "test_cli.py::test_replay_exits_non_zero_when_anything_failed",
    "replay_ignored": "test_cli.py::test_replay_of_a_record_no_rule_takes_exits_1_and_keeps_it",
    "replay_dry_run": "test_cli.py::test_replay_counts_dry_run_as_released_only_under_the_dry_run_option",
    "replay_kept": "test_cli.py::test_replay_keeps_only_the_records_that_did_not_end_released",
    "drain_left": "test_drain.py::test_a_failed_message_stays_and_goes_once_its_cause_is_fixed",
    "drain_deleted": "test_drain.py::test_released_messages_are_deleted_and_the_rest_left_until_their_visibility_"
                     "timeout",
}


@dataclass(frozen=True)
class Mutant:
    name: str
    guard: str                  # its exact source text: found once in the package
    mutation: str               # what replaces it
    kind: str                   # removed | flipped | permissive
    tests: Tuple[str, ...]      # keys of TESTS


M = Mutant
MUTANTS: List[Mutant] = [
    # ---- issue 21's named guards ----
    M("give-up after a failed send", "    def __exit__(self, *raised) -> None:\n        self.end()",
      "    def __exit__(self, *raised) -> None:\n        pass", "removed", ("unknown_resent",)),
    M("claim reused across retries", "if self._open is not None and self._open[0] == slot:",
      "if False:", "removed", ("unknown_resent",)),
    M("a deadline-stopped decision is retryable",
      'return planned.but(outcome=FAILED, error_code="DeadlineExceeded", retryable=True, attempts=e.attempts,',
      'return planned.but(outcome=FAILED, error_code="DeadlineExceeded", retryable=False, attempts=e.attempts,',
      "flipped", ("no_attempt_late", "batch_overtime")),
    M("the same, after an error", "return planned.but(outcome=FAILED, error_code=e.code, retryable=e.retryable, "
      "attempts=attempts,\n", "return planned.but(outcome=FAILED, error_code=e.code, retryable=e.retryable and not "
      "gave_up, attempts=attempts,\n", "flipped", ("cut_retried",)),
    M("the sweep's pacing stops at the deadline", "        if wait > call.deadline.left() - MIN_CALL_S:\n"
      "            tally.stopped_at_deadline = True", "        if False:\n            tally.stopped_at_deadline = True",
      "removed", ("pace",)),
    M("the sweep's deadline stop (pass 1)", "            if call.deadline.left() < MIN_CALL_S:\n"
      "                tally.stopped_at_deadline = True", "            if False:\n"
      "                tally.stopped_at_deadline = True", "removed", ("sweep_stop",)),
    M("overdue exactly at `by`", "now >= candidate.due", "now > candidate.due", "flipped", ("overdue_at_by",)),
    M("the scrubber's URL stripping", '    text = _URL.sub("<url>", text)\n', "", "removed", ("urls",)),
    M("the scrubber's session-token patterns", '|sessiontoken|session_token)[\\"\']', ')[\\"\']', "removed",
      ("session_tokens",)),
    M("the start-of-attempt time guard", "        if deadline.left() < MIN_CALL_S:\n            raise GaveUp(last, "
      "attempt, deadline=True)\n", "", "removed", ("no_oss_call_late", "no_attempt_late")),
    # ---- the ledger: what a claim means (ledger/__init__.py), the claim protocol (ledger/claims.py) ----
    M("understood: undecodable", "    except msgspec.DecodeError:\n        return None\n    ahead",
      "    except msgspec.DecodeError:\n        raise\n    ahead", "flipped", ("any_shape",)),
    M("understood: claimed_at ahead", "if not 0 <= entry.claimed_at <= ahead:", "if False:", "removed",
      ("any_shape",)),
    M("understood: `until` in range",
      "if not entry.claimed_at <= entry.live_until <= entry.claimed_at + _ms(LONGEST + GRACE):", "if False:",
      "removed", ("any_shape",)),
    M("understood: sent_at of sent/unknown", 'if entry.state in ("sent", "unknown") and not (entry.sent_at is not '
      "None", 'if False and not (entry.sent_at is not None', "removed", ("any_shape",)),
    M("understood: held_until in range", "if entry.held_until is not None and not (entry.state == \"sent\"",
      "if False and not (entry.state == \"sent\"", "removed", ("any_shape",)),
    M("judge: a live claim", "        if now_ms < settles:\n            return LIVE",
      "        if now_ms < settles:\n            return None", "permissive", ("dies_mid_send",)),
    M("judge: look again", "return LookAgain(entry) if ready is not None and looked_ms < settles else None",
      "return None", "permissive", ("stale_looked_past",)),
    M("judge: a send after the look-up", "    if entry.sent_at >= looked_ms - _ms(GRACE):\n        return Stands(entry)",
      "    if False:\n        return Stands(entry)", "removed", ("in_flight_final",)),
    M("judge: the grace", "if entry.sent_at >= looked_ms - _ms(GRACE):", "if entry.sent_at >= looked_ms:",
      "flipped", ("grace",)),
    M("judge: the hold", "if entry.held_until is not None and now_ms < entry.held_until and ready is not True:",
      "if False:", "removed", ("hold_stands",)),
    M("judge: the look-up beats the hold", "now_ms < entry.held_until and ready is not True:",
      "now_ms < entry.held_until:", "removed", ("lookup_beats_hold",)),
    M("judge: an unknown fate", 'if entry is None or entry.state == "failed":',
      'if entry is None or entry.state in ("failed", "unknown"):', "permissive", ("unknown_resent",)),
    M("the claim token", "if latest is not None and token and latest.token == token:", "if False:", "removed",
      ("token",)),
    M("the 10 s wait", "if waited + pause > WAIT_S or book.deadline.left()", "if book.deadline.left()", "removed",
      ("ten_seconds",)),
    M("the wait's deadline bound", "if waited + pause > WAIT_S or book.deadline.left() - pause < 2 * MIN_CALL_S:",
      "if waited + pause > WAIT_S:", "removed", ("dies_mid_send",)),
    M("claim names: ASCII digits", '_NUMBER = re.compile(r"[0-9]+\\.json\\Z")', '_NUMBER = re.compile(r"\\d+\\.json\\Z")',
      "permissive", ("claim_names",)),
    M("Claims.end", "        if self._open is not None:\n            slot, n, entry = self._open\n"
      "            self._open = None\n            at = self._unanswered",
      "        if False:\n            slot, n, entry = self._open\n            self._open = None\n"
      "            at = self._unanswered", "removed", ("unknown_resent",)),
    M("Claims.unanswered", "        self._unanswered = at\n", "        pass\n", "removed", ("unknown_resent",)),
    M("only the claim's creator sends", "if book.create_claim(slot, n + 1, entry):",
      "if book.create_claim(slot, n + 1, entry) or True:", "permissive", ("one_of_two",)),
    M("a claim is waited for GRACE past its claimer's deadline",
      "until = ms(at) + int(book.deadline.left() * 1000) + _ms(GRACE)", "until = ms(at) + int(book.deadline.left() * "
      "1000)", "removed", ("claimed_until",)),
    M("a look-up showing our unanswered trigger ran records it sent",
      "claims.sent(call.now(), instance.status, False, None)   # our unanswered trigger, if any",
      "pass", "removed", ("landed_recorded", "landed")),
    M("a ledger that cannot record never undoes a release", "        except GaveUp:\n            return None\n\n"
      "    def _note_asked", "        except GaveUp:\n            raise\n\n    def _note_asked", "flipped",
      ("unrecorded_send",)),
    M("an MNS or timer event's ask is noted", "if rule.expect is not None and sources.get(rule.on).asks:",
      "if False:", "removed", ("asked_evidence",)),
    # ---- the relay: batches, memory, shares ----
    M("the deadline's margin before FC's timeout", "margin = min(3.0, max(0.5, timeout * 0.1))", "margin = 0.0",
      "removed", ("margin",)),
    M("a piece of work's budget never outlives the invocation's",
      "return msgspec.structs.replace(self, deadline=Deadline(min(self.deadline.at, clock() + seconds), clock))",
      "return msgspec.structs.replace(self, deadline=Deadline(clock() + seconds, clock))", "removed", ("within",)),
    M("RECORD_S reserve", "attempts = call if book is None else call.within(call.deadline.left() - min(RECORD_S, "
      "call.deadline.left() / 4))", "attempts = call", "removed", ("unknown_resent",)),
    M("the batch's deadline stop", "            if call.deadline.left() <= 0:\n                yield _unread(item)",
      "            if False:\n                yield _unread(item)", "removed", ("huge_batch",)),
    M("a batch read lazily", 'return each("oss", records, _native_ids(records), _oss_native)',
      'return list(each("oss", records, _native_ids(records), _oss_native))', "flipped", ("lazy_batch",)),
    M("a remembered hold vs a ready look-up", "if seen is not None and seen.held_until_ms > ms(call.now()) and not "
      "ready:", "if seen is not None and seen.held_until_ms > ms(call.now()):", "removed", ("memory_vs_ready",)),
    M("held_until remembered without a ledger", 'Seen(decision.cycle_time_ms, decision.biz_date_ms, "sent", ms(now), '
      "held_until)", 'Seen(decision.cycle_time_ms, decision.biz_date_ms, "sent", ms(now))', "removed",
      ("memory_of_hold",)),
    M("a hold remembered until it ends", "else max(self._ttl_s, held_s)", "else self._ttl_s",
      "removed", ("hold_ttl",)),
    M("no ledger: only a ready instance is sent to",
      "if not early and book is None and instance is not None and not ready:", "if False:", "removed",
      ("no_ledger_held",)),
    M("no ledger: the sweep is not early", "early=rule.ledger is not None)", "early=True)", "permissive",
      ("no_ledger_held",)),
    M("a decision's share", "budget = call.share() if more or n < len(releases) else call",
      "budget = call", "removed", ("dead_endpoint_share",)),
    M("look-ahead to the next record", "yield from self._event(item, call, following is not None)",
      "yield from self._event(item, call, False)", "removed", ("dead_endpoint_share",)),
    M("Silence: an endpoint not asked again", "        silent = call.silence.down(endpoint)\n        if silent is not "
      "None:\n            return planned.but(", "        silent = call.silence.down(endpoint)\n        if False:\n"
      "            return planned.but(", "removed", ("dead_endpoint_share",)),
    M("a trigger that got no answer may have landed", "                    sent.landed = True\n",
      "                    pass\n", "removed", ("landed",)),
    # ---- look-up sharing (relay.py, recent.Listings): a listing of a moment ago, never one our trigger outdated ----
    M("a retry after a trigger with no answer looks again",
      "fresh = sent.landed or look > 0 or (number > 1 and book is None)",
      "fresh = look > 0 or (number > 1 and book is None)", "removed", ("retry_after_no_answer", "whatever_listing")),
    M("a look-up a send of unknown fate overtook is made again",
      "fresh = sent.landed or look > 0 or (number > 1 and book is None)",
      "fresh = sent.landed or (number > 1 and book is None)", "removed", ("stale_looked_past",)),
    M("without a ledger a retry looks again", "fresh = sent.landed or look > 0 or (number > 1 and book is None)",
      "fresh = sent.landed or look > 0", "removed", ("retry_fresh_no_ledger",)),
    M("with a ledger a retry reuses the listing of a moment ago",
      "fresh = sent.landed or look > 0 or (number > 1 and book is None)",
      "fresh = sent.landed or look > 0 or number > 1", "flipped", ("retry_shared_ledger",)),
    M("a trigger with no answer outdates the listing", "                    self.listings.touch(key[:5], "
      "found.cycle_time_ms)\n                    claims.unanswered(at)", "                    claims.unanswered(at)",
      "removed", ("meanwhile_outdated",)),
    M("an accepted trigger outdates the listing", "            self.listings.touch(key[:5], found.cycle_time_ms)\n"
      "            return self._accepted(", "            return self._accepted(", "removed", ("whichever_rule",)),
    M("a batch shares one listing", "listed = None if fresh else self.listings.get(key, now, schedule.cycle_ms)",
      "listed = None", "removed", ("one_look_up", "hours_share")),
    M("an event's tasks share one listing",
      "also = () if fresh else self._siblings(port, rule, target, schedule, call, now)",
      "also = ()", "removed", ("tasks_share",)),
    M("a shared listing keeps each task's own", "listed = [i for i in every if i.node == target.node]",
      "listed = every", "permissive", ("tasks_own",)),
    M("Listings: old after FRESH_S", "not 0 <= now_ms - found[0] < self._fresh_ms",
      "not 0 <= now_ms - found[0]", "permissive", ("listing_old", "listing_unit")),
    M("Listings: none from ahead of the clock", "not 0 <= now_ms - found[0] < self._fresh_ms",
      "not now_ms - found[0] < self._fresh_ms", "permissive", ("listing_unit",)),
    M("Listings: never for an instance sent a trigger since",
      "found[2] and cycle_ms is None or cycle_ms in found[2]):", "False):", "removed", ("listing_unit",)),
    M("Listings: never for any instance once one was", "found[2] and cycle_ms is None or cycle_ms in found[2]):",
      "cycle_ms in found[2]):", "removed", ("listing_unit",)),
    M("Listings.touch: the instance", "                self._listed[key][2].add(cycle_ms)",
      "                pass", "removed", ("listing_unit",)),
    M("Listings.touch: every instance", "                self._listed.pop(key, None)", "                pass",
      "removed", ("listing_unit",)),
    # ---- quota pacing (pacing.py, dataworks/openapi.py): reads and writes on budgets of their own ----
    M("a throttle while doubling goes back to the second before", "cut = min(cut, max(self._rate, current / 2))",
      "pass", "removed", ("slow_start_exit",)),
    M("a trigger paced on the writes' budget", "self._pacing.write if write else self._pacing.read",
      "self._pacing.read", "flipped", ("throttled_kind",)),
    M("a look-up paced on the reads' budget", "self._pacing.write if write else self._pacing.read",
      "self._pacing.write", "flipped", ("throttled_kind",)),
    M("a Pacer for reads and one for writes", "Pacing(*(Pacer(ceiling, self._clock) for ceiling in self._qps))",
      "Pacing(*[Pacer(self._qps[0], self._clock)] * 2)", "removed", ("budgets_apart",)),
    # ---- the ledger's `seen` record (relay._ledger_seen): answered from only while young ----
    M("ledger seen: not older than TTL_S",
      "not now - TTL_S * 1000 < sighting.at_ms <= now + GRACE.total_seconds() * 1000",
      "not sighting.at_ms <= now + GRACE.total_seconds() * 1000", "permissive", ("ledger_seen",)),
    M("ledger seen: not further ahead than GRACE",
      "not now - TTL_S * 1000 < sighting.at_ms <= now + GRACE.total_seconds() * 1000",
      "not now - TTL_S * 1000 < sighting.at_ms", "permissive", ("seen_ahead",)),
    M("STREAM dating", "    elif event.undated:\n        raise ScheduleError(", "    elif False:\n"
      "        raise ScheduleError(", "removed", ("stream_dating",)),
    # ---- the sweep (sweep.py) and its gate (evidence.py) ----
    M("Silence in the sweep", "                if e.error is not None and e.error.code in SILENT:\n"
      "                    call.silence.unheard(endpoint, unconfirmed)", "                if False:\n"
      "                    call.silence.unheard(endpoint, unconfirmed)", "removed", ("overdue_unasked",)),
    M("overdue confirmed by a look-up", "        if refused is None:\n            tally.lookups += 1\n"
      "            endpoint = call.endpoint_for(c.rule)", "        if False:\n            tally.lookups += 1\n"
      "            endpoint = call.endpoint_for(c.rule)", "removed", ("lost_event", "overdue_ran")),
    M("no overdue for an instance that ran", "                if not instance.waiting:\n"
      "                    return None\n            except Unresolved", "                pass\n"
      "            except Unresolved", "removed", ("overdue_ran",)),
    M("a candidate's own budget", "return call.within(max(MIN_SHARE_S, min(cap_s, call.deadline.left() / 4)))",
      "return call", "permissive", ("overdue_outage",)),
    M("rotation", "return candidates[start:] + candidates[:start]", "return candidates", "removed", ("rotation",)),
    M("the same captures for key and require", "captures = rule.key.match(key) or {}", "captures = {}", "permissive",
      ("same_captures",)),
    M("an MNS or timer rule's evidence is an event that asked", "    if not book.was_asked(rule.name, target.node, "
      "schedule.biz_date):\n", "    if False:\n", "removed", ("asked_evidence",)),
    M("a timer's require in the sweep", "if not sources.get(rule.on).files(rule, None)[0]:", "if True:",
      "permissive", ("timer_require",)),
    M("the sweep's evidence: the ledger's done", "    if book is not None and book.is_done(rule.api, "
      "target.workspace, target.node, schedule.biz_date,", "    if False and book.is_done(rule.api, target.workspace, "
      "target.node, schedule.biz_date,", "removed", ("ledger_done",)),
    # ---- every budget a total: OSS `find`, proxies (oss/v2.py, wire.py) ----
    M("a wildcard lists one level (delimiter '/')", 'for keys, directories in self._pages(bucket, prefix, deadline, "/", '
      "spend):", "for keys, directories in self._pages(bucket, prefix, deadline, None, spend):", "flipped",
      ("one_level",)),
    M("find's fan-out bound", "if made[0] > MAX_FIND_CALLS:", "if False:", "removed", ("fan_out",)),
    M("a repeated continuation token", "            if token in seen:\n", "            if False:\n", "removed",
      ("repeated_token",)),
    M("a common prefix outside the directory listed", 'if not sub.startswith(prefix) or not sub.endswith("/") or "/" '
      "in name:", "if False:", "removed", ("listed_directory",)),
    M("a SOCKS proxy refused", 'if spent is not None and proxy.lower().startswith("socks"):', "if False:", "removed",
      ("socks",)),
    # ---- validation ----
    M("region is a region id", "if spec.region is not None and not _REGION.match(spec.region):", "if False:",
      "removed", ("region",)),
    M("`expect` refused on removal events", "        if removals:\n            problem(\"expect\", f\"cannot check",
      "        if False:\n            problem(\"expect\", f\"cannot check", "removed", ("expect_removal",)),
    M("DWTRIGGER_SWEEP_QPS in range", "if not SWEEP_QPS[0] <= qps <= SWEEP_QPS[1]:", "if False:", "removed",
      ("sweep_qps",)),
    # ---- commands tell the truth (ops/) ----
    M("replay exits 1 unless all released", "sys.exit(1 if replayer.problems or untried else 0)", "sys.exit(0)",
      "permissive", ("replay_failed", "replay_ignored")),
    M("replay keeps what was not released",
      "kept = [(outcome, why) for outcome, why in decided if outcome not in self.released]",
      "kept = [(outcome, why) for outcome, why in decided if outcome not in self.released + (IGNORED,)]",
      "permissive", ("replay_ignored", "replay_kept")),
    M("dry_run released only under --dry-run", "self.released = RELEASED + ((DRY_RUN,) if dry_run else ())",
      "self.released = RELEASED + (DRY_RUN,)", "permissive", ("replay_dry_run",)),
    M("replay --failed-out keeps what was not released", "                if not replayer.run(item):\n"
      "                    failed.append(item)", "                if not replayer.run(item):\n                    pass",
      "removed", ("replay_failed_out",)),
    M("replay keeps the records not tried", "failed += items[n:]", "failed += []", "removed", ("replay_untried",)),
    M("explain exits 1 when only a disabled rule takes it", 'bool(entry.get(IGNORED) and entry["disabled"])', "False",
      "removed", ("explain_disabled",)),
    M("a disabled rule's trigger is a warning (wiring)", "return [text for t, text in found if t is None or t in "
      "wrong], \\", "return [text for t, text in found], \\", "flipped", ("wiring_disabled",)),
    M("drain exits 1 while any remain", "sys.exit(1 if tally.left or tally.problems else 0)", "sys.exit(0)",
      "permissive", ("drain_left",)),
    M("drain deletes only released messages", "    if not released:\n        tally.left += 1\n",
      "    if False:\n        tally.left += 1\n", "removed", ("drain_left", "drain_deleted")),
]


def sources(tree: Path) -> Dict[Path, str]:
    return {path: path.read_text() for top in SEARCHED for path in sorted((tree / top).rglob("*.py"))}


def locate(mutant: Mutant, texts: Dict[Path, str]) -> Tuple[Optional[Path], str]:
    """The module holding the guard (None, and why, unless it is there exactly once)."""
    found = [(path, text.count(mutant.guard)) for path, text in texts.items() if mutant.guard in text]
    if not found:
        return None, "guard text not found"
    if len(found) > 1 or found[0][1] > 1:
        return None, f"guard text found {sum(n for _, n in found)} times"
    return found[0][0], ""


def copy_tree(into: Path) -> None:
    """The working tree's files (tracked and new, as git sees them) under `into`."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)


def missing_tests(ids: List[str]) -> List[str]:
    """The TESTS keys whose test is not defined where its id says (renamed, moved or deleted)."""
    def defined(test_id: str) -> bool:
        module, _, name = test_id.partition("::")
        path = ROOT / "tests" / module
        return path.is_file() and re.search(rf"^def {re.escape(name)}\(", path.read_text(), re.M) is not None
    return [key for key in ids if not defined(TESTS[key])]


def run_tests(tree: Path, ids: List[str], workers: int = 0) -> Tuple[str, float]:
    """'' when the tests pass; else the first failing test's id (or why they could not run). `workers`: spread
    over that many pytest-xdist processes."""
    env = {**os.environ, "PYTHONPATH": str(tree / "shared")}
    spread = ["-n", str(workers), "--dist", "loadfile"] if workers > 1 else []
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *spread,
                               *[f"tests/{TESTS[i]}" for i in ids]], cwd=tree, env=env, capture_output=True,
                              text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"(its tests hung past {TIMEOUT_S} s)", time.monotonic() - started
    spent = time.monotonic() - started
    if done.returncode == 0:
        return "", spent
    failed = re.findall(r"^(?:FAILED|ERROR) tests/(\S+?::\w+)", done.stdout, re.M)
    # A test failed, and pytest ended by it (1), or died of a signal after saying so (threads of the failed test
    # still running while the interpreter shut down: caught all the same).
    if not failed or not (done.returncode == 1 or done.returncode < 0):
        return f"(pytest exit {done.returncode}: {(done.stdout + done.stderr).strip().splitlines()[-1:]})", spent
    return failed[0], spent


def attempt(m: Mutant, where: Tuple[Optional[Path], str], tree: Path) -> Tuple[str, str, float]:
    """(its table row, what caught it or why it was not, seconds): `m` made in `tree`, its tests run, undone."""
    path, why = where
    if path is None:
        caught, spent = f"GUARD NOT FOUND ({why})", 0.0
    else:
        copy = tree / path.relative_to(ROOT)
        original = copy.read_text()
        try:
            copy.write_text(original.replace(m.guard, m.mutation, 1))
            failing, spent = run_tests(tree, list(m.tests))
        finally:
            copy.write_text(original)
        caught = failing or "SURVIVED"
        if failing.startswith("(pytest exit"):
            caught = f"BROKEN MUTANT {failing}"
    module = path.relative_to(ROOT).as_posix().removeprefix("shared/") if path else "?"
    return f"| {m.name} ({module}) | {m.kind} | {caught} |", caught, spent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="mutants whose name contains NAME")
    parser.add_argument("--list", action="store_true", help="list the mutants and where each guard is; run nothing")
    parser.add_argument("--jobs", type=int, default=2, metavar="N",
                        help="mutants run at once, each in its own copy of the tree (default 2)")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.only or any(n.lower() in m.name.lower() for n in args.only)]
    unknown = sorted({t for m in chosen for t in m.tests} - set(TESTS))
    if not chosen or unknown:
        print(f"no mutant matches {args.only}" if not chosen else f"unknown test names {unknown}", file=sys.stderr)
        return 2
    texts = sources(ROOT)
    where = {m.name: locate(m, texts) for m in chosen}
    named = sorted({t for m in chosen for t in m.tests})
    missing = missing_tests(named)
    if args.list:
        for m in chosen:
            path, why = where[m.name]
            print(f"{m.name}: {path.relative_to(ROOT) if path else why} -> " + ", ".join(TESTS[t] for t in m.tests))
        for key in missing:
            print(f"test {key}: {TESTS[key]} is not defined there", file=sys.stderr)
        return 0 if all(path for path, _ in where.values()) and not missing else 1
    if missing:
        print("tests not defined where TESTS says: " + ", ".join(TESTS[k] for k in missing), file=sys.stderr)
        return 1
    jobs = max(1, min(args.jobs, len(chosen)))
    with tempfile.TemporaryDirectory(prefix="dwtrigger-mutants-") as temp:
        trees = [Path(temp) / f"tree{n}" for n in range(jobs)]
        for tree in trees:
            copy_tree(tree)
        failing, spent = run_tests(trees[0], named, workers=jobs)
        print(f"unmutated: {len(named)} tests {'pass' if not failing else 'FAIL: ' + failing} ({spent:.0f} s)",
              flush=True)
        if failing:
            return 1
        started, pending, lock = time.monotonic(), list(reversed(chosen)), threading.Lock()
        results: Dict[str, Tuple[str, str, float]] = {}

        def work(tree: Path) -> None:
            while True:
                with lock:
                    if not pending:
                        return
                    m = pending.pop()
                results[m.name] = row = attempt(m, where[m.name], tree)
                print(f"{row[0]}  {row[2]:.0f} s", flush=True)

        workers = [threading.Thread(target=work, args=(tree,)) for tree in trees]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    rows = [results[m.name] for m in chosen]
    bad = sum(caught.startswith(("SURVIVED", "GUARD NOT FOUND", "BROKEN")) for _, caught, _ in rows)
    print("\n| guard | mutation | caught by |\n|---|---|---|\n" + "\n".join(row for row, _, _ in rows))
    print(f"\n{len(rows) - bad} of {len(rows)} mutants caught" + (f"; {bad} NOT" if bad else "")
          + f" ({time.monotonic() - started:.0f} s, {jobs} at once)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
