#!/usr/bin/env python3
"""Build data/cache_pairs/{dev,test}.jsonl: labelled query pairs for the semantic cache's hit verifier.

A pair (a, b) says whether a cached answer to `a` also answers `b`:
  paraphrase  two utterances of one intent that a single answer fits;
  near_miss   many shared words, but the answer to one is wrong for the other:
              utterances of two different intents (why "intent"), of one intent with
              different slot values (another time, place, amount, ...: why "slot"), or
              of one intent asking another question (found by reading: why "question").

Rows come from the shared extraction of CLINC150 (in-scope only), Banking77 and HWU64.
Intents are split first (per source, the 30% of intents with the smallest
sha256("source:intent") go to test), and a pair only joins utterances of intents in
the same split, so the test pairs are made of intents and utterances the dev pairs
never show.

Labels: an automatic rule (per-intent classes and a slot-word heuristic, below) gives
every pair a label; data/cache_pairs/reviewed.jsonl holds the hand judgments made by
reading every test pair and a sample of dev pairs, and overrides the rule (relabel or
drop). Unread dev slot pairs on weak evidence are then dropped, and each split is
balanced between the kinds. The rules are documented in data/cache_pairs/README.md;
keep the two in step. Changing the sampling changes which pairs are drawn: the test
pairs would have to be read again.

Deterministic: every random choice is seeded from SEED and a stable key, so the same
inputs always give byte-identical outputs.

Usage: prepare_cache_pairs.py [--src DIR] [--out DIR] [--stats]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from itertools import combinations
from pathlib import Path
from typing import Any

SEED = 20250607
TEST_SHARE = 0.3
REPO = Path(__file__).resolve().parents[1]
DEFAULT_SRC = REPO.parent / "shared" / "data" / "routing"
DEFAULT_OUT = REPO / "data" / "cache_pairs"
SOURCES = ("clinc150", "banking77", "hwu64")
LICENCES = {"clinc150": "CC-BY-3.0", "banking77": "CC-BY-4.0", "hwu64": "CC-BY-4.0"}

# Pairs drawn before the hand review (which drops some); per split and kind.
TARGETS = {"test": 700, "dev": 2500}
EXTRA_CROSS = {"test": 100, "dev": 0}       # cross-intent near misses drawn after the others
DEV_READ_SAMPLE = 300
WEAK_SLOT_DF = 4            # a word in this many utterances of the intent is its phrasing
EXTRA_DEV_NEAR = 600        # dev near misses drawn after the others (see build())
# Overlap bands (Jaccard of lowercase word sets).
HIGH_OVERLAP = 0.4          # at least half of the paraphrases are drawn at or above this
NEAR_MISS_STRONG = 0.5      # cross-intent near misses: most at or above this ...
NEAR_MISS_MODERATE = 0.3    # ... some in [0.3, 0.5) with shared content words
SLOT_MIN_OVERLAP = 0.3      # same-intent slot near misses must still share this much
MODERATE_SHARE = 0.25       # of near misses drawn from the moderate band
# Caps, so that a few intents do not dominate.
PER_INTENT_CAP = {"test": 12, "dev": 16}          # paraphrases per intent
PER_INTENT_SLOT_CAP = {"test": 14, "dev": 20}     # slot near misses per intent
PER_INTENT_PAIR_CAP = {"test": 6, "dev": 6}       # cross-intent near misses per intent pair
PER_INTENT_CROSS_CAP = {"test": 20, "dev": 30}    # cross-intent near misses touching one intent
PER_UTTERANCE_CAP = 2                             # pairs of one kind an utterance may join
# A word used by at least this share of a source's intents is phrasing, not a slot value.
PHRASING_INTENT_SHARE = 0.15

WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

STOP = set("""
a an the and or but if so as of to in on at by for from with about into over through
i me my mine myself we us our you your yours it its it's this that these those there here
is am are was were be been being do does did done have has had having will would shall
should can could may might must need needs needed want wanted wanna like i'd i'm i've i'll
you're you've what what's whats which who whom whose when where why how whether
please pls kindly tell know let give show find help hey hi hello ok okay just really
also too very some any all one get got getting go going make made see look
olly alexa siri ai thanks thank sir now right currently current
""".split())

NUMBER_WORDS = set("""
zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy
eighty ninety hundred thousand million half quarter first second third
""".split())
# "am" and "may" are mostly the verbs: "am" counts only after a number (below).
TIME_WORDS = set("""
pm noon midnight morning afternoon evening night tonight today tomorrow yesterday
weekend week month year monday tuesday wednesday thursday friday saturday sunday
january february march april june july august september october november december
""".split())
# Opposite actions and settings hidden inside one intent (whisper mode on/off, sync/unsync):
# slot words in the intents that hold both directions, ordinary words elsewhere.
ACTION_WORDS = set("""
on off up down add remove delete cancel increase decrease raise lower louder softer
faster slower higher start stop sync unsync connect disconnect lock unlock
""".split())
TWO_WAY_INTENTS = {
    "clinc150": set("""
whisper_mode sync_device smart_home change_volume change_speed calendar_update todo_list_update
shopping_list_update update_playlist reminder_update
""".split()),
    "hwu64": {"iot_hue_lightchange", "music_settings", "lists_createoradd", "calendar_set"},
}

# Banking77 utterances name few values; its slot words are these names (and numbers,
# times), not rare words, which there are mostly other phrasing.
BANKING_SLOT_WORDS = set("""
us usa uk eu europe european china spain canada austria britain british russian ruble rubles
america american express gbp aud eur usd euro euros dollar dollars pound pounds
visa mastercard matercard amex apple google applepay swift sepa ebay
""".split())
# Values that matter inside one intent although they are common words.
EXTRA_SLOT_WORDS: dict[tuple[str, str], set[str]] = {
    ("banking77", "top_up_by_cash_or_cheque"): {"cash", "cheque", "check"},
    ("banking77", "balance_not_updated_after_cheque_or_cash_deposit"): {"cash", "cheque", "check"},
    ("banking77", "edit_personal_details"): {"address", "name", "surname", "phone", "email", "number"},
}

# Per-intent answer classes (judged by reading each intent's utterances):
#   F  uniform: one answer fits every utterance; same-intent pairs are paraphrases;
#   S  slot-bearing: the answer depends on values in the utterance; same-intent pairs
#      are paraphrases only when their slot words agree, otherwise slot near misses;
#   M  mixed: sub-questions differ; paraphrases only with high overlap and agreeing slots;
#   X  heterogeneous: no paraphrases; slot near misses only with strong overlap.
# Intents not listed are S.
CLASSES: dict[str, dict[str, str]] = {
    "clinc150": {
        **dict.fromkeys("""
are_you_a_bot cancel card_declined change_accent credit_score current_location
damaged_card date do_you_have_pets find_phone flip_coin freeze_account gas_type goodbye
greeting how_old_are_you improve_credit_score income insurance insurance_change jump_start
last_maintenance lost_luggage maybe meaning_of_life mpg new_card next_holiday next_song no
oil_change_how oil_change_when order_checks order_status pin_change pto_balance
pto_request_status pto_used reminder repeat report_lost_card reset_settings rollover_401k
taxes thank_you tire_change tire_pressure user_name w2 what_are_your_hobbies
what_can_i_ask_you what_is_your_name what_song where_are_you_from who_do_you_work_for
who_made_you yes credit_limit_change
""".split(), "F"),
        **dict.fromkeys("""
account_blocked carry_on credit_limit expiration_date payday pto_request redeem_rewards
replacement_card_duration transactions direct_deposit application_status
""".split(), "M"),
    },
    "banking77": {
        **dict.fromkeys("""
activate_my_card card_arrival card_delivery_estimate card_not_working card_swallowed
cash_withdrawal_charge cash_withdrawal_not_recognised change_pin compromised_card
contactless_not_working declined_card_payment declined_cash_withdrawal declined_transfer
direct_debit_payment_not_recognised extra_charge_on_statement failed_transfer
lost_or_stolen_card lost_or_stolen_phone passcode_forgotten pending_card_payment
pending_cash_withdrawal pending_top_up pending_transfer pin_blocked Refund_not_showing_up
request_refund reverted_card_payment? terminate_account top_up_failed top_up_reverted
transaction_charged_twice transfer_fee_charged transfer_not_received_by_recipient
unable_to_verify_identity verify_my_identity virtual_card_not_working
wrong_amount_of_cash_received card_payment_fee_charged card_payment_not_recognised
card_payment_wrong_exchange_rate wrong_exchange_rate_for_cash_withdrawal
balance_not_updated_after_bank_transfer beneficiary_not_allowed getting_virtual_card
get_disposable_virtual_card verify_source_of_funds
""".split(), "F"),
        **dict.fromkeys("""
age_limit atm_support automatic_top_up cancel_transfer card_about_to_expire card_acceptance
card_linking disposable_card_limits edit_personal_details exchange_charge exchange_rate
fiat_currency_support get_physical_card getting_spare_card order_physical_card
receiving_money supported_cards_and_currencies top_up_by_bank_transfer_charge
top_up_by_card_charge top_up_limits topping_up_by_card transfer_into_account transfer_timing
verify_top_up visa_or_mastercard why_verify_identity
balance_not_updated_after_cheque_or_cash_deposit
""".split(), "M"),
    },
    "hwu64": {
        **dict.fromkeys("""
general_affirm general_commandstop general_confirm general_dontcare general_explain
general_negate general_praise general_repeat audio_volume_down audio_volume_up
""".split(), "F"),
        **dict.fromkeys("""
general_quirky qa_factoid news_query music_likeness social_post social_query music_query
email_query email_querycontact email_sendemail play_game cooking_recipe transport_query
recommendation_locations recommendation_events lists_createoradd lists_remove
calendar_set calendar_remove calendar_query qa_definition
""".split(), "X"),
    },
}

# Intent pairs whose answers overlap so much that a cross-intent pair may well be
# answered by one answer: cross-intent pairs between them are not drawn as near misses.
NEAR_DUPLICATE_INTENTS: dict[str, list[tuple[str, str]]] = {
    "clinc150": [
        ("calendar", "meeting_schedule"), ("calendar", "calendar_update"),
        ("credit_limit", "credit_limit_change"), ("damaged_card", "replacement_card_duration"),
        ("damaged_card", "new_card"), ("new_card", "replacement_card_duration"),
        ("report_lost_card", "replacement_card_duration"), ("definition", "spelling"),
        ("directions", "distance"), ("distance", "traffic"), ("exchange_rate", "measurement_conversion"),
        ("calculator", "measurement_conversion"), ("gas", "mpg"), ("ingredients_list", "recipe"),
        ("cook_time", "recipe"), ("meal_suggestion", "recipe"), ("interest_rate", "apr"),
        ("restaurant_reservation", "accept_reservations"), ("restaurant_reviews", "restaurant_suggestion"),
        ("meal_suggestion", "restaurant_suggestion"), ("schedule_meeting", "meeting_schedule"),
        ("spending_history", "transactions"), ("who_made_you", "who_do_you_work_for"),
        ("what_can_i_ask_you", "who_do_you_work_for"), ("cancel", "no"), ("whisper_mode", "change_volume"),
        ("change_speed", "change_accent"), ("change_accent", "change_language"),
        ("uber", "car_rental"), ("book_hotel", "travel_suggestion"), ("nutrition_info", "calories"),
        ("travel_alert", "international_visa"), ("travel_alert", "vaccines"),
        ("account_blocked", "card_declined"), ("freeze_account", "report_fraud"),
        ("report_fraud", "report_lost_card"), ("expiration_date", "replacement_card_duration"),
        ("pto_request", "pto_request_status"), ("reminder", "todo_list"),
        ("reminder_update", "todo_list_update"), ("calendar_update", "reminder_update"),
        ("shopping_list", "todo_list"), ("shopping_list_update", "todo_list_update"),
        ("order", "shopping_list_update"), ("smart_home", "change_volume"),
        ("redeem_rewards", "rewards_balance"), ("tell_joke", "fun_fact"),
    ],
    "banking77": [
        ("card_arrival", "card_delivery_estimate"), ("card_arrival", "order_physical_card"),
        ("card_delivery_estimate", "order_physical_card"), ("get_physical_card", "change_pin"),
        ("get_physical_card", "pin_blocked"), ("pin_blocked", "change_pin"),
        ("lost_or_stolen_card", "compromised_card"), ("lost_or_stolen_card", "card_swallowed"),
        ("compromised_card", "card_payment_not_recognised"),
        ("compromised_card", "cash_withdrawal_not_recognised"),
        ("card_payment_not_recognised", "direct_debit_payment_not_recognised"),
        ("card_payment_not_recognised", "extra_charge_on_statement"),
        ("card_payment_not_recognised", "cash_withdrawal_not_recognised"),
        ("extra_charge_on_statement", "card_payment_fee_charged"),
        ("extra_charge_on_statement", "direct_debit_payment_not_recognised"),
        ("card_payment_fee_charged", "transfer_fee_charged"),
        ("card_payment_fee_charged", "cash_withdrawal_charge"),
        ("card_payment_fee_charged", "card_payment_wrong_exchange_rate"),
        ("card_payment_wrong_exchange_rate", "wrong_exchange_rate_for_cash_withdrawal"),
        ("card_payment_wrong_exchange_rate", "exchange_rate"),
        ("wrong_exchange_rate_for_cash_withdrawal", "exchange_rate"),
        ("exchange_rate", "exchange_charge"), ("exchange_charge", "exchange_via_app"),
        ("exchange_rate", "exchange_via_app"), ("fiat_currency_support", "supported_cards_and_currencies"),
        ("fiat_currency_support", "exchange_via_app"), ("fiat_currency_support", "receiving_money"),
        ("supported_cards_and_currencies", "topping_up_by_card"),
        ("supported_cards_and_currencies", "top_up_by_card_charge"),
        ("supported_cards_and_currencies", "visa_or_mastercard"),
        ("supported_cards_and_currencies", "card_acceptance"),
        ("card_acceptance", "visa_or_mastercard"), ("card_acceptance", "atm_support"),
        ("card_acceptance", "country_support"), ("country_support", "age_limit"),
        ("declined_card_payment", "card_not_working"), ("declined_card_payment", "declined_transfer"),
        ("declined_card_payment", "virtual_card_not_working"),
        ("declined_card_payment", "contactless_not_working"),
        ("declined_card_payment", "reverted_card_payment?"),
        ("card_not_working", "virtual_card_not_working"), ("card_not_working", "contactless_not_working"),
        ("card_not_working", "activate_my_card"), ("card_not_working", "card_linking"),
        ("declined_cash_withdrawal", "card_not_working"), ("declined_cash_withdrawal", "pending_cash_withdrawal"),
        ("declined_transfer", "failed_transfer"), ("declined_transfer", "beneficiary_not_allowed"),
        ("failed_transfer", "beneficiary_not_allowed"), ("failed_transfer", "cancel_transfer"),
        ("failed_transfer", "pending_transfer"), ("failed_transfer", "transfer_not_received_by_recipient"),
        ("pending_transfer", "transfer_timing"), ("pending_transfer", "transfer_not_received_by_recipient"),
        ("pending_transfer", "balance_not_updated_after_bank_transfer"),
        ("transfer_timing", "balance_not_updated_after_bank_transfer"),
        ("transfer_timing", "transfer_not_received_by_recipient"),
        ("balance_not_updated_after_bank_transfer", "transfer_not_received_by_recipient"),
        ("balance_not_updated_after_bank_transfer", "balance_not_updated_after_cheque_or_cash_deposit"),
        ("balance_not_updated_after_bank_transfer", "top_up_by_bank_transfer_charge"),
        ("balance_not_updated_after_bank_transfer", "transfer_into_account"),
        ("transfer_into_account", "top_up_by_bank_transfer_charge"),
        ("transfer_into_account", "topping_up_by_card"),
        ("pending_card_payment", "pending_top_up"), ("pending_card_payment", "reverted_card_payment?"),
        ("pending_cash_withdrawal", "wrong_amount_of_cash_received"),
        ("pending_cash_withdrawal", "cash_withdrawal_not_recognised"),
        ("pending_top_up", "top_up_failed"), ("pending_top_up", "top_up_reverted"),
        ("pending_top_up", "verify_top_up"), ("top_up_failed", "top_up_reverted"),
        ("top_up_failed", "topping_up_by_card"), ("top_up_by_card_charge", "topping_up_by_card"),
        ("top_up_by_card_charge", "top_up_by_bank_transfer_charge"),
        ("top_up_by_cash_or_cheque", "balance_not_updated_after_cheque_or_cash_deposit"),
        ("top_up_limits", "automatic_top_up"), ("top_up_limits", "disposable_card_limits"),
        ("top_up_reverted", "Refund_not_showing_up"), ("request_refund", "Refund_not_showing_up"),
        ("request_refund", "cancel_transfer"), ("reverted_card_payment?", "Refund_not_showing_up"),
        ("transaction_charged_twice", "card_payment_not_recognised"),
        ("transaction_charged_twice", "extra_charge_on_statement"),
        ("verify_my_identity", "why_verify_identity"), ("verify_my_identity", "unable_to_verify_identity"),
        ("why_verify_identity", "unable_to_verify_identity"), ("verify_my_identity", "verify_source_of_funds"),
        ("why_verify_identity", "verify_source_of_funds"), ("verify_top_up", "verify_my_identity"),
        ("get_disposable_virtual_card", "getting_virtual_card"),
        ("get_disposable_virtual_card", "disposable_card_limits"),
        ("getting_virtual_card", "virtual_card_not_working"),
        ("getting_spare_card", "order_physical_card"), ("getting_spare_card", "getting_virtual_card"),
        ("order_physical_card", "getting_virtual_card"), ("card_about_to_expire", "order_physical_card"),
        ("card_about_to_expire", "card_arrival"), ("card_about_to_expire", "card_delivery_estimate"),
        ("activate_my_card", "card_linking"), ("activate_my_card", "card_arrival"),
        ("passcode_forgotten", "pin_blocked"), ("passcode_forgotten", "change_pin"),
        ("lost_or_stolen_phone", "passcode_forgotten"), ("edit_personal_details", "verify_my_identity"),
        ("terminate_account", "edit_personal_details"), ("cash_withdrawal_charge", "atm_support"),
        ("cash_withdrawal_charge", "wrong_exchange_rate_for_cash_withdrawal"),
        ("cash_withdrawal_charge", "exchange_charge"), ("transfer_fee_charged", "top_up_by_bank_transfer_charge"),
        ("transfer_fee_charged", "exchange_charge"), ("card_payment_fee_charged", "exchange_charge"),
        ("apple_pay_or_google_pay", "topping_up_by_card"), ("apple_pay_or_google_pay", "top_up_failed"),
        ("receiving_money", "transfer_into_account"), ("receiving_money", "balance_not_updated_after_bank_transfer"),
        ("declined_transfer", "transfer_not_received_by_recipient"),
    ],
    "hwu64": [
        ("audio_volume_down", "audio_volume_mute"), ("audio_volume_up", "audio_volume_down"),
        ("iot_hue_lightdim", "iot_hue_lightoff"), ("iot_hue_lightup", "iot_hue_lighton"),
        ("iot_hue_lightchange", "iot_hue_lightdim"), ("iot_hue_lightchange", "iot_hue_lightup"),
        ("iot_wemo_off", "iot_hue_lightoff"), ("iot_wemo_on", "iot_hue_lighton"),
        ("alarm_query", "alarm_set"), ("calendar_query", "calendar_set"), ("calendar_set", "alarm_set"),
        ("datetime_query", "datetime_convert"), ("email_query", "email_querycontact"),
        ("email_addcontact", "email_querycontact"), ("general_affirm", "general_praise"),
        ("general_confirm", "general_affirm"), ("general_explain", "general_repeat"),
        ("general_negate", "general_explain"), ("general_commandstop", "general_negate"),
        ("general_quirky", "qa_factoid"), ("lists_createoradd", "lists_query"),
        ("lists_createoradd", "lists_remove"), ("music_query", "play_music"),
        ("music_likeness", "play_music"), ("music_settings", "play_music"),
        ("play_radio", "play_music"), ("play_podcasts", "play_radio"), ("play_audiobook", "play_podcasts"),
        ("qa_definition", "qa_factoid"), ("qa_maths", "qa_currency"), ("news_query", "qa_factoid"),
        ("recommendation_events", "recommendation_locations"),
        ("recommendation_movies", "recommendation_events"), ("social_post", "social_query"),
        ("takeaway_order", "takeaway_query"), ("transport_query", "transport_ticket"),
        ("transport_query", "transport_traffic"), ("transport_taxi", "transport_ticket"),
        ("weather_query", "datetime_query"), ("weather_query", "transport_traffic"),
    ],
}

Row = dict[str, Any]
Pair = dict[str, Any]
# A pool entry: (round-robin key, [(cap key, cap kind)], pair).
Entry = tuple[str, list[tuple[str, str]], Pair]
Pools = dict[str, dict[str, list[Entry]]]


def words(text: str) -> frozenset[str]:
    return frozenset(WORD.findall(text.lower()))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def stable_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load(src: Path, source: str) -> list[Row]:
    rows = []
    with open(src / f"{source}.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if source == "clinc150" and not r["in_scope"]:
                continue
            rows.append(r)
    # HWU64 reuses a few ids for different utterances: append the intent, as
    # scripts/prepare_routing_data.py does.
    ids = Counter(r["id"] for r in rows)
    for r in rows:
        if ids[r["id"]] > 1:
            r["id"] = f"{r['id']}-{r['intent']}"
    assert len({r["id"] for r in rows}) == len(rows), source
    # Texts that repeat (case and spacing ignored) are kept once: an identical pair is
    # no test, and one text under two intents is label noise.
    seen: dict[str, str] = {}
    out = []
    for r in sorted(rows, key=lambda r: r["id"]):
        key = " ".join(r["prompt"].lower().split())
        if key in seen:
            continue
        seen[key] = r["intent"]
        out.append(r)
    return out


def split_intents(source: str, intents: Iterable[str]) -> dict[str, str]:
    ranked = sorted(intents, key=lambda i: stable_hash(f"{source}:{i}"))
    n_test = round(TEST_SHARE * len(ranked))
    return {i: ("test" if k < n_test else "dev") for k, i in enumerate(ranked)}


class Utt:
    __slots__ = ("row", "words", "content", "slots")

    def __init__(self, source: str, row: Row, phrasing: set[str]) -> None:
        self.row = row
        self.words = words(row["prompt"])
        self.content = frozenset(w for w in self.words if w not in STOP)
        extra = set(EXTRA_SLOT_WORDS.get((source, row["intent"]), set()))
        if row["intent"] in TWO_WAY_INTENTS.get(source, set()):
            extra |= ACTION_WORDS
        toks = WORD.findall(row["prompt"].lower())
        timed = {"am" for prev, w in zip(toks, toks[1:]) if w == "am" and is_value_word(prev)}
        self.slots = frozenset(timed | {w for w in self.words
                                        if w in extra or is_slot_word(source, w, phrasing)})


def is_value_word(w: str) -> bool:
    return any(ch.isdigit() for ch in w) or w in NUMBER_WORDS or w in TIME_WORDS


def is_slot_word(source: str, w: str, phrasing: set[str]) -> bool:
    """Slot values: numbers, times, dates, opposite actions; in Banking77 the names of
    countries, currencies and card brands; elsewhere any word outside the source's
    common phrasing (place, person, song, bank, dish names are rare words there)."""
    if is_value_word(w):
        return True
    if source == "banking77":
        return w in BANKING_SLOT_WORDS
    return w not in STOP and w not in phrasing and w not in ACTION_WORDS


def phrasing_words(rows: list[Row]) -> set[str]:
    intents_of: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        for w in words(r["prompt"]):
            intents_of[w].add(r["intent"])
    n = len({r["intent"] for r in rows})
    return {w for w, ints in intents_of.items() if len(ints) >= PHRASING_INTENT_SHARE * n}


def same_intent_label(source: str, cls: str, a: Utt, b: Utt, jac: float) -> tuple[str, str | None] | None:
    """Automatic label of a same-intent pair, or None when it is not drawn."""
    slot_diff = a.slots != b.slots
    if cls == "F":
        # Uniform answer; but where a value or (Banking77) a name differs, unclear: skip.
        if any(is_value_word(w) for w in a.slots ^ b.slots) or (
                source == "banking77" and slot_diff):
            return None
        return ("paraphrase", None)
    if cls == "S":
        if not slot_diff:
            return ("paraphrase", None)
        return ("near_miss", "slot") if jac >= SLOT_MIN_OVERLAP else None
    if cls == "M":
        if not slot_diff and jac >= HIGH_OVERLAP:
            return ("paraphrase", None)
        return ("near_miss", "slot") if slot_diff and jac >= NEAR_MISS_STRONG else None
    assert cls == "X", cls
    return ("near_miss", "slot") if slot_diff and jac >= NEAR_MISS_STRONG else None


def weak_slot(a: Utt, b: Utt, df: Counter[str]) -> bool:
    """A slot near miss on weak evidence: no number, time or date differs, and either
    only one side has words the other lacks ("read my list" / "please read my list"),
    or every differing word is common in the intent (its phrasing: "set" / "turn").
    Reading the test pairs found two thirds of these to be paraphrases (against one
    in five of the others); unread dev pairs of this kind are dropped."""
    only_a, only_b = a.slots - b.slots, b.slots - a.slots
    if any(is_value_word(w) for w in only_a | only_b):
        return False
    return not only_a or not only_b or all(df[w] >= WEAK_SLOT_DF for w in only_a | only_b)


def pair_record(source: str, a: Utt, b: Utt, kind: str, why: str | None, jac: float) -> Pair:
    ia, ib = sorted([a.row["id"], b.row["id"]])
    pid = "cp-" + stable_hash(f"{source}|{ia}|{ib}")[:12]
    # Orientation: pseudo-random but stable, so that neither side is systematically
    # the longer or the lower id.
    if int(stable_hash(pid), 16) & 1:
        a, b = b, a
    return {
        "id": pid,
        "a": a.row["prompt"],
        "b": b.row["prompt"],
        "kind": kind,
        "source": source,
        "intent_a": a.row["intent"],
        "intent_b": b.row["intent"],
        "why": why,
        "origin_a": a.row["id"],
        "origin_b": b.row["id"],
        "licence": LICENCES[source],
        "overlap": round(jac, 3),
        "auto_kind": kind,
        "auto_why": why,
    }


def candidates(source: str, rows: list[Row], split_of: dict[str, str]) -> Pools:
    """Per split, the candidate pools: para_hi, para_lo, slot, cross_strong, cross_moderate.

    Each pool entry is (round-robin key, [(cap key, cap kind)], pair)."""
    phrasing = phrasing_words(rows)
    classes = CLASSES.get(source, {})
    unknown = set(classes) - {r["intent"] for r in rows}
    assert not unknown, f"{source}: unknown intents in CLASSES: {sorted(unknown)}"
    dupes = {frozenset(p) for p in NEAR_DUPLICATE_INTENTS.get(source, [])}
    for p in dupes:
        assert p <= {r["intent"] for r in rows}, f"{source}: unknown intents {sorted(p)}"
    utts = [Utt(source, r, phrasing) for r in rows]
    pools: Pools = {s: defaultdict(list) for s in ("test", "dev")}
    by_intent: dict[str, list[Utt]] = defaultdict(list)
    intent_df: dict[str, Counter[str]] = defaultdict(Counter)
    for u in utts:
        by_intent[u.row["intent"]].append(u)
        intent_df[u.row["intent"]].update(u.words)
    for intent in sorted(by_intent):
        split = split_of[intent]
        cls = classes.get(intent, "S")
        for a, b in combinations(by_intent[intent], 2):
            jac = jaccard(a.words, b.words)
            label = same_intent_label(source, cls, a, b, jac)
            if label is None:
                continue
            kind, why = label
            key = f"{source}:{intent}"
            if kind == "paraphrase":
                pool = "para_hi" if jac >= HIGH_OVERLAP else "para_lo"
            else:
                pool = "slot"
            cap_kind = "slot" if pool == "slot" else "intent"
            record = pair_record(source, a, b, kind, why, jac)
            if pool == "slot":
                record["_weak"] = weak_slot(a, b, intent_df[intent])
            pools[split][pool].append((key, [(f"{cap_kind}:{key}", cap_kind)], record))
    # Cross-intent: candidates must share a content word (inverted index).
    for split in ("test", "dev"):
        members = [u for u in utts if split_of[u.row["intent"]] == split]
        index: dict[str, list[int]] = defaultdict(list)
        for k, u in enumerate(members):
            for w in u.content:
                index[w].append(k)
        seen: set[tuple[int, int]] = set()
        for w in sorted(index):
            ks = index[w]
            for x, y in combinations(ks, 2):
                if (x, y) in seen:
                    continue
                seen.add((x, y))
                a, b = members[x], members[y]
                ia, ib = a.row["intent"], b.row["intent"]
                if ia == ib or frozenset((ia, ib)) in dupes:
                    continue
                jac = jaccard(a.words, b.words)
                shared_content = len(a.content & b.content)
                if jac >= NEAR_MISS_STRONG:
                    pool = "cross_strong"
                elif jac >= NEAR_MISS_MODERATE and shared_content >= 2:
                    pool = "cross_moderate"
                else:
                    continue
                key = f"{source}:" + "|".join(sorted((ia, ib)))
                caps = [(f"x:{key}", "pair"), (f"xi:{source}:{ia}", "cross"),
                        (f"xi:{source}:{ib}", "cross")]
                pools[split][pool].append((key, caps, pair_record(source, a, b, "near_miss", "intent", jac)))
    return pools


class DrawState:
    """What the draws of one split share: utterance uses, cap counts, pairs taken."""

    def __init__(self) -> None:
        self.used: Counter[tuple[str, str]] = Counter()
        self.count: Counter[str] = Counter()
        self.taken: set[str] = set()


def draw(pool: list[Entry], n: int, caps: dict[str, int], rng: random.Random,
         state: DrawState) -> list[Pair]:
    """Round-robin over the pool's keys (shuffled), taking one pair per key per round,
    while every cap key of the pair is under its cap (`caps` by cap kind) and each
    utterance joins at most PER_UTTERANCE_CAP pairs of a kind; stops at n."""
    groups: dict[str, list[tuple[list[tuple[str, str]], Pair]]] = defaultdict(list)
    for key, cap_keys, p in sorted(pool, key=lambda e: e[2]["id"]):
        groups[key].append((cap_keys, p))
    keys = sorted(groups)
    rng.shuffle(keys)
    for key in keys:
        rng.shuffle(groups[key])
    used, count, taken = state.used, state.count, state.taken
    out: list[Pair] = []
    progress = True
    while len(out) < n and progress:
        progress = False
        for key in keys:
            if len(out) >= n:
                break
            g = groups[key]
            while g:
                cap_keys, p = g.pop()
                if p["id"] in taken:
                    continue
                if any(count[k] >= caps[kind] for k, kind in cap_keys):
                    continue
                ua, ub = (p["kind"], p["origin_a"]), (p["kind"], p["origin_b"])
                if used[ua] >= PER_UTTERANCE_CAP or used[ub] >= PER_UTTERANCE_CAP:
                    continue
                used[ua] += 1
                used[ub] += 1
                for k, _ in cap_keys:
                    count[k] += 1
                taken.add(p["id"])
                out.append(p)
                progress = True
                break
    return out


def build(src: Path) -> dict[str, list[Pair]]:
    merged: Pools = {s: defaultdict(list) for s in ("test", "dev")}
    for source in SOURCES:
        rows = load(src, source)
        split_of = split_intents(source, {r["intent"] for r in rows})
        for split, pools in candidates(source, rows, split_of).items():
            for name, items in pools.items():
                merged[split][name].extend(items)
    out: dict[str, list[Pair]] = {}
    for split in ("test", "dev"):
        pools = merged[split]
        target = TARGETS[split]
        rng = random.Random(f"{SEED}:{split}")
        state = DrawState()
        cap = PER_INTENT_CAP[split]
        half = {"intent": cap // 2, "slot": PER_INTENT_SLOT_CAP[split],
                "pair": PER_INTENT_PAIR_CAP[split],
                "cross": PER_INTENT_CROSS_CAP[split]}
        full = {**half, "intent": cap}
        # Paraphrases: half from the high-overlap band, half random (the low band),
        # per-intent caps shared by both bands.
        hi = draw(pools["para_hi"], target // 2, half, rng, state)
        lo = draw(pools["para_lo"], target - len(hi), full, rng, state)
        hi += draw(pools["para_hi"], target - len(hi) - len(lo), full, rng, state)
        paras = hi + lo
        # Near misses: every strong cross-intent pair the caps allow, a share of
        # moderate-overlap cross-intent pairs, then slot pairs of one intent (strong
        # overlap first); fill from the moderate band where these run short.
        slot_hi = [e for e in pools["slot"] if e[2]["overlap"] >= NEAR_MISS_STRONG]
        slot_lo = [e for e in pools["slot"] if e[2]["overlap"] < NEAR_MISS_STRONG]
        near = draw(pools["cross_strong"], target, full, rng, state)
        near += draw(pools["cross_moderate"], round(MODERATE_SHARE * target), full, rng, state)
        near += draw(slot_hi, target - len(near), full, rng, state)
        near += draw(slot_lo, target - len(near), full, rng, state)
        near += draw(pools["cross_moderate"], target - len(near), full, rng, state)
        # Balance the kinds: trim the longer list from its tail (its last round-robin
        # rounds, i.e. the intents with the most pairs).
        n = min(len(paras), len(near))
        if len(paras) > n:
            keep_hi = min(len(hi), max(n - len(lo), (n + 1) // 2))
            paras = hi[:keep_hi] + lo[:n - keep_hi]
        # A second round of cross-intent near misses with looser caps: reading the test
        # pairs turned a third of the slot pairs into paraphrases, so the test split
        # needs more near misses. Drawn after everything else, so that the pairs above
        # (already read) stay the same; balance() evens the kinds out again.
        loose = {**full, "pair": 2 * full["pair"], "cross": 2 * full["cross"]}
        extra = draw(pools["cross_strong"], EXTRA_CROSS[split], loose, rng, state)
        extra += draw(pools["cross_moderate"], EXTRA_CROSS[split] - len(extra), loose, rng, state)
        if split == "dev":
            # Dev labels are automatic (but for a read sample), so weak slot pairs are
            # dropped (drop_weak_slots()); draw more near misses to make up for them,
            # after everything else so that the read sample stays the same.
            strong_slots = [e for e in pools["slot"] if not e[2]["_weak"]]
            extra = draw(pools["cross_strong"], EXTRA_DEV_NEAR, loose, rng, state)
            extra += draw(strong_slots, EXTRA_DEV_NEAR - len(extra), loose, rng, state)
            extra += draw(pools["cross_moderate"], EXTRA_DEV_NEAR - len(extra), loose, rng, state)
            for p in extra:
                p["_extra"] = True
        out[split] = paras + near[:n] + extra
    return out


def load_reviewed(path: Path) -> dict[str, Row]:
    reviewed: dict[str, Row] = {}
    if not path.exists():
        return reviewed
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            assert r["kind"] in ("paraphrase", "near_miss", "drop"), (n, r)
            assert r.get("why"), (n, r)
            assert r["id"] not in reviewed, f"reviewed.jsonl: {r['id']} twice"
            reviewed[r["id"]] = r
    return reviewed


def review_why(p: Pair, r: Row) -> str | None:
    """The `why` of a relabelled pair: null for a paraphrase; for a near miss "intent"
    (two intents), "slot" (one intent, another value: the review note starts with
    "slot") or "question" (one intent, another question about the same thing)."""
    if r["kind"] == "paraphrase":
        return None
    if p["intent_a"] != p["intent_b"]:
        return "intent"
    return "slot" if r["why"].startswith("slot") else "question"


def apply_review(pairs: dict[str, list[Pair]], reviewed: dict[str, Row]) -> dict[str, list[Pair]]:
    known = {p["id"] for ps in pairs.values() for p in ps}
    stale = sorted(set(reviewed) - known)
    assert not stale, f"reviewed.jsonl names pairs that are not drawn: {stale[:5]}"
    out: dict[str, list[Pair]] = {}
    for split, ps in pairs.items():
        kept = []
        for p in ps:
            r = reviewed.get(p["id"])
            if r is not None:
                if r["kind"] == "drop":
                    continue
                p["kind"] = r["kind"]
                p["why"] = review_why(p, r)
                p["review"] = r["why"]
            kept.append(p)
        out[split] = kept
    return out


def mark_read(pairs: dict[str, list[Pair]]) -> None:
    """`checked`: the pair was read by hand (every test pair; a seeded sample of the
    dev pairs as drawn, before the review)."""
    dev_ids = sorted(p["id"] for p in pairs["dev"] if not p.get("_extra"))
    sample = set(random.Random(f"{SEED}:dev-read").sample(dev_ids, min(DEV_READ_SAMPLE, len(dev_ids))))
    for p in pairs["test"]:
        p["checked"] = True
    for p in pairs["dev"]:
        p["checked"] = p["id"] in sample


def drop_weak_slots(pairs: dict[str, list[Pair]]) -> dict[str, list[Pair]]:
    """Drop the dev slot near misses on weak evidence (weak_slot()) that were not read."""
    return {split: [p for p in ps
                    if not (split == "dev" and p.get("_weak") and not p["checked"]
                            and p["auto_why"] == "slot")]
            for split, ps in pairs.items()}


def balance(pairs: dict[str, list[Pair]]) -> dict[str, list[Pair]]:
    """After the review, trim the larger kind of each split to the size of the smaller,
    in a stable pseudo-random order, keeping at least half of the paraphrases in the
    high-overlap band."""
    out: dict[str, list[Pair]] = {}
    for split, ps in pairs.items():
        paras = [p for p in ps if p["kind"] == "paraphrase"]
        near = [p for p in ps if p["kind"] == "near_miss"]
        n = min(len(paras), len(near))
        rank = sorted(ps, key=lambda p: stable_hash(f"{SEED}:trim:{p['id']}"))
        drop: set[str] = set()
        n_para, n_near = len(paras), len(near)
        n_hi = sum(p["overlap"] >= HIGH_OVERLAP for p in paras)
        for p in rank:
            if n_para == n and n_near == n:
                break
            if p["kind"] == "paraphrase" and n_para > n:
                hi = p["overlap"] >= HIGH_OVERLAP
                if hi and (n_hi - 1) < (n_para - 1) / 2:
                    continue
                n_hi -= hi
                n_para -= 1
                drop.add(p["id"])
            elif p["kind"] == "near_miss" and n_near > n:
                n_near -= 1
                drop.add(p["id"])
        out[split] = [p for p in ps if p["id"] not in drop]
    return out


def write_jsonl(path: Path, rows: list[Pair]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            r = {k: v for k, v in r.items() if not k.startswith("_")}
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def order(rows: list[Pair]) -> list[Pair]:
    return sorted(rows, key=lambda p: (p["source"], p["kind"], p["id"]))


def check(pairs: dict[str, list[Pair]]) -> None:
    test_intents = {(p["source"], i) for p in pairs["test"] for i in (p["intent_a"], p["intent_b"])}
    dev_intents = {(p["source"], i) for p in pairs["dev"] for i in (p["intent_a"], p["intent_b"])}
    assert not test_intents & dev_intents, sorted(test_intents & dev_intents)[:5]
    test_utts = {(p["source"], o) for p in pairs["test"] for o in (p["origin_a"], p["origin_b"])}
    dev_utts = {(p["source"], o) for p in pairs["dev"] for o in (p["origin_a"], p["origin_b"])}
    assert not test_utts & dev_utts
    test_texts = {p[k].lower() for p in pairs["test"] for k in ("a", "b")}
    dev_texts = {p[k].lower() for p in pairs["dev"] for k in ("a", "b")}
    assert not test_texts & dev_texts, sorted(test_texts & dev_texts)[:5]
    ids = [p["id"] for ps in pairs.values() for p in ps]
    assert len(ids) == len(set(ids))
    for ps in pairs.values():
        for p in ps:
            assert p["a"].lower() != p["b"].lower(), p["id"]
            if p["kind"] == "paraphrase":
                assert p["why"] is None, p["id"]
            else:
                assert p["why"], p["id"]


def band(j: float) -> str:
    if j < 0.2:
        return "<0.2"
    if j < 0.3:
        return "0.2-0.3"
    if j < 0.4:
        return "0.3-0.4"
    if j < 0.5:
        return "0.4-0.5"
    return ">=0.5"


def stats(pairs: dict[str, list[Pair]]) -> str:
    lines = []
    for split in ("dev", "test"):
        ps = pairs[split]
        lines.append(f"## {split}: {len(ps)} pairs")
        c = Counter((p["source"], p["kind"], p["why"] if p["kind"] == "near_miss" else "-") for p in ps)
        for k in sorted(c):
            lines.append(f"  {k}: {c[k]}")
        bands = Counter((p["kind"], band(p["overlap"])) for p in ps)
        for kind in ("paraphrase", "near_miss"):
            n = sum(v for (k, _), v in bands.items() if k == kind)
            row = ", ".join(f"{b}: {bands[(kind, b)]}" for b in ("<0.2", "0.2-0.3", "0.3-0.4", "0.4-0.5", ">=0.5"))
            lines.append(f"  overlap {kind} (n={n}): {row}")
        per_intent: Counter[tuple[str, str]] = Counter()
        for p in ps:
            per_intent[(p["source"], p["intent_a"])] += 1
            if p["intent_b"] != p["intent_a"]:
                per_intent[(p["source"], p["intent_b"])] += 1
        lines.append(f"  intents: {len(per_intent)}, max pairs touching one intent: {max(per_intent.values())}")
        lines.append(f"  read by hand: {sum(p['checked'] for p in ps)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--stats", action="store_true", help="print counts and overlap bands")
    args = ap.parse_args(argv)
    for source in SOURCES:
        if not (args.src / f"{source}.jsonl").exists():
            print(f"missing {args.src / source}.jsonl", file=sys.stderr)
            return 1
    pairs = build(args.src)
    mark_read(pairs)
    reviewed = load_reviewed(args.out / "reviewed.jsonl")
    pairs = balance(drop_weak_slots(apply_review(pairs, reviewed)))
    check(pairs)
    args.out.mkdir(parents=True, exist_ok=True)
    for split in ("dev", "test"):
        write_jsonl(args.out / f"{split}.jsonl", order(pairs[split]))
    if args.stats:
        print(stats(pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
