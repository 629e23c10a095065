"""The app's text in Japanese (the default) and English: one flat dictionary per language, the same keys in both.

Keys with a prefix name things that come from the contracts and the model: ``feature.<model input>`` (the
assessment items among them), ``code.<code>``, ``route.<route code>``, ``decision.<worker decision>``,
``question.q1``…``q8`` and ``verdict.<checklist score>``.
"""
from __future__ import annotations

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"

_ITEMS = {
    "injury_present": ("外傷がある", "Visible injury"),
    "injury_head_face_abdomen": ("頭部・顔面・腹部の外傷", "Injury to head, face or abdomen"),
    "injury_severity": ("外傷の程度", "Injury severity"),
    "injury_old_and_new": ("新旧の外傷が混在", "Old and new injuries together"),
    "child_disclosure": ("子ども本人の訴え", "Child's own account"),
    "child_wants_protection": ("子どもが保護を求めている", "Child asks for protection"),
    "child_disability": ("障害・慢性疾患", "Disability or chronic illness"),
    "growth_concern": ("発育・栄養・衛生の問題", "Growth, nutrition or hygiene concern"),
    "sexual_abuse_suspected": ("性的虐待の疑い", "Sexual abuse suspected"),
    "caregiver_explanation_inconsistent": ("保護者の説明が不自然・否認", "Caregiver denies or explanation does not fit"),
    "caregiver_substance_abuse": ("保護者の飲酒・薬物問題", "Caregiver alcohol or drug problem"),
    "caregiver_mental_illness": ("保護者の精神疾患", "Caregiver mental illness"),
    "domestic_violence": ("DV（配偶者間暴力）", "Domestic violence between adults"),
    "caregiver_refuses_contact": ("保護者が接触を拒否", "Caregiver refuses contact"),
    "caregiver_threatens_harm": ("保護者が重大な危害を示唆", "Caregiver threatens serious harm"),
    "new_partner_in_household": ("保護者の新しいパートナーと同居", "Caregiver's new partner in household"),
    "single_parent": ("ひとり親家庭", "Single-parent household"),
    "economic_hardship": ("経済的困窮", "Economic hardship"),
    "social_isolation": ("社会的孤立", "Social isolation"),
    "sibling_reported": ("きょうだいの通告歴", "Sibling has been reported"),
    "caregiver_requests_help": ("保護者が支援・保護を求めている", "Caregiver asks for help"),
}

_OTHER_FEATURES = {
    "age_years": ("年齢（受理時）", "Age at receipt"),
    "has_assessment": ("アセスメントの記録", "Assessment recorded"),
    "route": ("通告経路", "Referral route"),
    "abuse_physical": ("身体的虐待（通告内容）", "Physical abuse reported"),
    "abuse_neglect": ("ネグレクト（通告内容）", "Neglect reported"),
    "abuse_sexual": ("性的虐待（通告内容）", "Sexual abuse reported"),
    "abuse_psychological": ("心理的虐待（通告内容）", "Psychological abuse reported"),
    "prior_reports_1y": ("過去1年の通告数", "Reports in the past year"),
    "prior_reports_2y": ("過去2年の通告数", "Reports in the past 2 years"),
    "prior_reports_total": ("過去の通告数（全期間）", "Past reports (all time)"),
    "prior_substantiated": ("過去の虐待確認件数", "Past substantiated reports"),
    "prior_protections": ("過去の一時保護", "Past temporary protections"),
    "prior_severe_harm": ("過去の重大な被害", "Past severe harm"),
    "prior_agencies_2y": ("過去2年に関わった機関数", "Agencies involved in the past 2 years"),
    "moves_2y": ("過去2年の転居", "Moves in the past 2 years"),
    "moves_total": ("転居（全期間）", "Moves (all time)"),
    "missed_checkups": ("未受診の乳幼児健診", "Missed infant checkups"),
    "overdue_immunizations": ("未接種の定期予防接種", "Overdue routine immunizations"),
    "open_alerts": ("未解決の所在不明・転居連絡", "Open moved / missing alerts"),
}

_CODES = {
    "yes": ("はい", "yes"), "no": ("いいえ", "no"), "unknown": ("不明", "unknown"),
    "missing": ("未記録", "not recorded"),
    "none": ("なし", "none"), "minor": ("軽度", "minor"), "moderate": ("中等度", "moderate"),
    "severe": ("重度", "severe"), "mild": ("軽い訴え", "mild"), "serious": ("深刻な訴え", "serious"),
}

_ROUTES = {
    "police": ("警察", "police"), "neighbor": ("近隣・知人", "neighbour"), "family": ("家族", "family"),
    "relative": ("親戚", "relative"), "school": ("学校", "school"), "nursery": ("保育所", "nursery"),
    "medical": ("医療機関", "medical"), "welfare_office": ("福祉事務所", "welfare office"),
    "municipality": ("市町村", "municipality"), "cgc": ("児童相談所", "child guidance centre"),
    "self": ("子ども本人", "the child"), "anonymous": ("匿名", "anonymous"), "other": ("その他", "other"),
}

_DECISIONS = {
    "protect": ("一時保護する", "Protect (temporary protection)"),
    "no_protect": ("一時保護しない", "Do not protect"),
    "undecided": ("保留（判断に追加情報が必要）", "Undecided (more information needed)"),
}

_QUESTIONS = {
    "q1": ("① 子ども・保護者が保護を求めている", "1 The child or a caregiver asks for protection"),
    "q2": ("② 緊急性が高い（性的虐待の強い疑い、「殺してしまうかも」等）",
           "2 The situation is urgent (sexual abuse strongly suspected, \"I might kill him\")"),
    "q3": ("③ すでに重大な結果が生じている", "3 Serious harm has already happened"),
    "q4": ("④ 重大な結果が生じる可能性が高い（乳幼児・頭部顔面への暴力等）",
           "4 Serious harm is likely (infant or frail child, blows to head or face)"),
    "q5": ("⑤ 繰り返す可能性が高い（新旧の傷、通告歴・保護歴、保護者の否認）",
           "5 Recurrence is likely (old and new injuries, prior reports or protection, caregiver denies)"),
    "q6": ("⑥ 子どもに影響が出ている", "6 The child shows effects"),
    "q7": ("⑦ 保護者のリスク要因", "7 Caregiver risk factors"),
    "q8": ("⑧ 家庭環境のリスク要因", "8 Household risk factors"),
}

_VERDICTS = {
    "3": ("緊急一時保護を検討", "Consider emergency protection"),
    "2": ("次の事態が起きる前の一時保護を検討", "Consider protection before the next incident"),
    "1": ("集中的な援助（必要に応じて一時保護）", "Intensive support, protection if needed"),
    "0": ("該当する項目なし", "No question answered yes"),
}

_UI = {
    "app_title": ("こども支援プラットフォーム", "Kodomo platform"),
    "synthetic_banner": ("このアプリのデータはすべて合成データです（`kodomo generate`）。実在の子ども・家庭・事例ではありません。",
                         "All data in this app are synthetic (`kodomo generate`). No real child, family or case."),
    "user_id_needed": ("閲覧の記録（監査ログ）のため、サイドバーに利用者IDを入力してください。",
                       "Enter your user ID in the sidebar: every view is recorded in the audit log."),
    "page": ("ページ", "Page"),
    "page_intake": ("担当者: インテーク評価", "Caseworker: intake assessment"),
    "page_model": ("データサイエンティスト: モデル", "Data scientist: model"),
    "no_warehouse": ("ウェアハウスにスコアがありません。先に `kodomo run --landing DIR` を実行してください。",
                     "The warehouse holds no scores yet: run `kodomo run --landing DIR` first."),
    "warehouse_unavailable": ("データを読み込めませんでした。処理の更新中の可能性があります。しばらくしてから再読み込みしてください。",
                              "The data could not be read; it may be being updated. Please reload in a moment."),
    "agency": ("機関", "Agency"),
    "intake": ("未終結のインテーク（通告）", "Open intake (report)"),
    "choose": ("選択してください", "Choose one"),
    "intake_label": ("通告 {report_id} ・ 受理 {received} ・ {age}歳", "Report {report_id} · received {received} · age {age}"),
    "intake_header": ("通告 {report_id}（{agency_id}）", "Report {report_id} ({agency_id})"),
    "received_at": ("受理日時", "Received"),
    "age": ("年齢", "Age"),
    "age_value": ("{age}歳", "{age} years"),
    "probability": ("1年以内の重大な再通告・重大な被害の確率", "Probability of a serious re-report or severe harm within a year"),
    "probability_caption": ("合成データで学習したモデル（{model}）が出した確率です。判断の参考情報であり、決定は担当者が行います。",
                            "A probability from a model ({model}) trained on SYNTHETIC data. Decision support only: the worker decides."),
    "model_version": ("child_risk バージョン {version}", "child_risk version {version}"),
    "above_threshold": ("レビュー基準（{threshold}）以上: 上席者による確認を推奨します。",
                        "At or above the review threshold ({threshold}): a second look by a senior worker is suggested."),
    "below_threshold": ("レビュー基準（{threshold}）未満。", "Below the review threshold ({threshold})."),
    "reasons": ("確率を上げた主な要因（SHAP）", "What raised the probability most (SHAP)"),
    "no_reasons": ("確率を上げた要因はありません。", "No input raised the probability."),
    "col_input": ("項目", "Input"),
    "col_value": ("値", "Value"),
    "col_contribution": ("寄与（対数オッズ）", "Contribution (log-odds)"),
    "missing_info": ("不足している情報", "Missing information"),
    "missing_info_help": ("「不明」または未記録の項目です。確認できた場合に確率がどう変わるかを示します（同じモデルで再計算）。",
                          "Items recorded as unknown or not recorded, and how the probability would change if each "
                          "were found out (rescored with the same model)."),
    "no_missing": ("不明・未記録の項目はありません。", "No item is unknown or missing."),
    "col_item": ("項目", "Item"),
    "col_now": ("現在", "Now"),
    "col_if": ("もし", "If"),
    "col_probability": ("確率", "Probability"),
    "col_change": ("変化（ポイント）", "Change (points)"),
    "checklist": ("公式アセスメントシート（一時保護決定に向けて）", "Official urgency checklist (assessment sheet)"),
    "checklist_help": ("記録された「はい」だけが該当になります（「不明」は該当しません）。",
                       "Only a recorded yes answers a question (unknown does not)."),
    "col_question": ("設問", "Question"),
    "col_answer": ("該当", "Answered yes"),
    "verdict": ("判定: {verdict}", "Verdict: {verdict}"),
    "decision_header": ("担当者の判断", "Your decision"),
    "decision_help": ("判断は担当者が行います。モデルは選択を事前に設定しません。",
                      "You decide: the model never pre-selects a decision."),
    "decision": ("判断", "Decision"),
    "rationale": ("判断の理由（必須）", "Rationale (required)"),
    "recorded_by": ("記録者ID: {user}", "Recorded by: {user}"),
    "submit": ("判断を記録する", "Record decision"),
    "decision_missing": ("判断を選択してください。", "Choose a decision."),
    "rationale_missing": ("判断の理由を入力してください。", "Enter a rationale."),
    "decision_saved": ("判断を記録しました（表示された確率 {probability}、モデル {version}）。",
                       "Decision recorded (probability shown {probability}, model {version})."),
    "previous_decisions": ("このインテークで記録された判断", "Decisions recorded for this intake"),
    "col_decided_at": ("記録日時", "Recorded at"),
    "col_worker": ("記録者", "Worker"),
    "col_decision": ("判断", "Decision"),
    "col_rationale": ("理由", "Rationale"),
    "col_probability_shown": ("表示された確率", "Probability shown"),
    "col_model_version": ("モデル", "Model"),
    "model_header": ("モデル child_risk（MLflow レジストリ）", "Model child_risk (MLflow registry)"),
    "no_model": ("登録済みのモデルがありません。先に `kodomo run` を実行してください。",
                 "No registered model yet: run `kodomo run` first."),
    "champion": ("チャンピオン（運用中）", "Champion (in use)"),
    "challenger": ("チャレンジャー（最新の候補）", "Challenger (latest candidate)"),
    "same_as_champion": ("チャレンジャーはチャンピオンと同じバージョンです（昇格済み）。",
                         "The challenger is the champion's version (promoted)."),
    "version_line": ("バージョン {version} ・ 実行 {run_id} ・ 登録 {created}", "Version {version} · run {run_id} · registered {created}"),
    "test_metrics": ("テスト期間の指標（95%信頼区間）", "Test-slice metrics (95% interval)"),
    "col_score": ("スコア", "Score"),
    "comparisons": ("AUCの差（95%信頼区間）", "AUC differences (95% interval)"),
    "promotion": ("昇格判定: {decision}", "Promotion decision: {decision}"),
    "promotion_pending": ("昇格判定はまだありません。", "Not judged for promotion yet."),
    "promoted": ("昇格", "promoted"),
    "rejected": ("見送り", "rejected"),
    "model_card": ("モデルカード", "Model card"),
    "download_card": ("モデルカードをダウンロード（HTML）", "Download the model card (HTML)"),
    "no_card": ("この実行にはモデルカードがありません。", "This run has no model card."),
}


def _merge(*tables: tuple[str, dict[str, tuple[str, str]]]) -> dict[str, dict[str, str]]:
    text: dict[str, dict[str, str]] = {language: {} for language in LANGUAGES}
    for prefix, table in tables:
        for key, values in table.items():
            for language, value in zip(LANGUAGES, values, strict=True):
                text[language][f"{prefix}{key}"] = value
    return text


TEXT = _merge(("", _UI), ("feature.", {**_ITEMS, **_OTHER_FEATURES}), ("code.", _CODES),
              ("route.", _ROUTES), ("decision.", _DECISIONS), ("question.", _QUESTIONS), ("verdict.", _VERDICTS))


def t(key: str, language: str = DEFAULT_LANGUAGE, **values) -> str:
    """The text of ``key`` in ``language``, with ``{placeholders}`` filled in."""
    text = TEXT[language][key]
    return text.format(**values) if values else text


_MARKDOWN_SPECIALS = frozenset("\\`*_{}[]()#+-.!|<>~$:=")


def literal(value: object) -> str:
    """A delivered value (an ID, a code) for a Markdown text: every Markdown character escaped, so it shows as
    typed and can never become a link, an image or formatting."""
    return "".join(f"\\{c}" if c in _MARKDOWN_SPECIALS else c for c in str(value))


def has(key: str, language: str = DEFAULT_LANGUAGE) -> bool:
    return key in TEXT[language]


def feature_label(name: str, language: str = DEFAULT_LANGUAGE) -> str:
    return t(f"feature.{name}", language)


def value_label(feature: str, value, language: str = DEFAULT_LANGUAGE) -> str:
    """A feature's value as a worker reads it: a code's words, a flag as yes / no, an age in years, a count."""
    if feature == "route" and has(f"route.{value}", language):
        return t(f"route.{value}", language)
    if feature == "has_assessment" or feature.startswith("abuse_"):
        return t("code.yes" if value in (1, "1", True) else "code.no", language)
    if feature == "age_years" and isinstance(value, int | float):
        return t("age_value", language, age=f"{value:.1f}")
    if isinstance(value, str) and has(f"code.{value}", language):
        return t(f"code.{value}", language)
    return str(value)
