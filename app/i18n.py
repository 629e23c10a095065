"""The app's text in Japanese (the default) and English: one flat dictionary per language, the same keys in both.

Keys with a prefix name things that come from the contracts and the model: ``feature.<model input>`` (the
assessment items among them), ``code.<code>``, ``route.<route code>``, ``decision.<worker decision>``,
``question.q1``…``q8`` and ``verdict.<checklist score>``.
"""
from __future__ import annotations

import math

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
    "synthetic_banner": ("このアプリのデータはすべて合成データです。実在の子ども・家庭・事例ではありません。",
                         "All data in this app are synthetic: no real child, family or case."),
    "no_secret": ("本番環境の設定が不足しているため起動できません（管理者へ連絡してください）: {reason}",
                  "The app cannot start: production configuration is incomplete (tell the administrator): {reason}"),
    "no_warehouse": ("まだ表示できるデータがありません。データの取り込みと処理が終わると表示されます。",
                     "No data to show yet: it appears once the data have been taken in and processed."),
    "warehouse_unavailable": ("データを読み込めませんでした。処理の更新中の可能性があります。しばらくしてから再読み込みしてください。",
                              "The data could not be read; it may be being updated. Please reload in a moment."),
    "refused": ("この操作はできません: {reason}", "Not allowed: {reason}"),
    # signing in
    "sign_in_title": ("サインイン", "Sign in"),
    "user_id": ("利用者ID", "User ID"),
    "password": ("パスワード", "Password"),
    "sign_in": ("サインイン", "Sign in"),
    "sign_in_oidc": ("組織のアカウントでサインイン", "Sign in with your organisation's account"),
    "sign_in_failed": ("利用者IDまたはパスワードが違います。", "The user ID or password is wrong."),
    "sign_in_locked": ("失敗が続いたため、このIDは一時的にロックされています。{seconds} 秒後にもう一度お試しください。",
                       "Too many failed attempts: this ID is locked. Try again in {seconds} s."),
    "oidc_no_account": ("「{user}」に対応する有効なアカウントがありません。管理者に登録を依頼してください。",
                        "No active account matches {user}: ask the administrator to create one."),
    "session_expired": ("15分間操作がなかったため、サインアウトしました。もう一度サインインしてください。",
                        "You were signed out after 15 minutes without activity. Please sign in again."),
    "signed_in_as": ("**{name}**（{role}）", "**{name}** ({role})"),
    "sign_out": ("サインアウト", "Sign out"),
    # the work queue
    "lookup_header": ("通告番号で開く", "Open by report number"),
    "lookup_label": ("通告番号（完全一致）", "Report number (exact)"),
    "purpose_label": ("閲覧の目的（管轄外の記録を開くときのみ）", "Purpose (only to open another jurisdiction's record)"),
    "purpose_help": ("管轄外の記録を開くと、その記録を持つ機関のスーパーバイザーに目的とともに通知されます。",
                     "Opening another jurisdiction's record is shown, with your purpose, to its supervisors."),
    "open": ("開く", "Open"),
    "lookup_none": ("通告番号「{number}」の受付は見つかりません。", "No intake has the report number {number}."),
    "lookup_many": ("通告番号「{number}」の受付が複数の機関にあります。一覧から選んでください。",
                    "Several agencies have an intake numbered {number}: choose it in the list."),
    "needs_purpose": ("この受付は管轄外です。閲覧の目的を入力してから開いてください（相手機関のスーパーバイザーに通知されます）。",
                      "This intake is outside your jurisdiction: state a purpose to open it (its supervisors will see it)."),
    "sort_by": ("並べ替え", "Sort by"),
    "queue_summary": ("未終結の受付 {n} 件（48時間以内の安全確認が期限切れ: {overdue} 件）。行を選ぶと開きます。",
                      "{n} open intakes ({overdue} past the 48-hour safety check). Select a row to open it."),
    "col_report": ("通告番号", "Report"),
    "col_agency": ("機関", "Agency"),
    "col_safety_deadline": ("安全確認の期限（受理から48時間）", "Safety check due (48 h)"),
    "col_safety": ("安全確認", "Safety check"),
    "col_status": ("判断", "Decision"),
    "col_source": ("受付の経路", "Entered"),
    # one intake
    "no_intake_open": ("受付一覧から受付を開いてください。", "Open an intake from the work queue."),
    "opened_with_purpose": ("管轄外の記録です。目的「{purpose}」で開いたことが相手機関に通知されています。",
                            "Another jurisdiction's record, opened for: {purpose}. Its supervisors are told."),
    "intake_header": ("通告 {report_id}（{agency}）", "Report {report_id} ({agency})"),
    "received_at": ("受理日時", "Received"),
    "route_label": ("通告経路", "Referral route"),
    "abuse_types_label": ("通告された虐待の種類", "Abuse reported"),
    "none_recorded": ("記録なし", "none recorded"),
    "age": ("年齢（受理時）", "Age at receipt"),
    "age_value": ("{age}歳", "{age} years"),
    "age_years_months": ("{years}歳{months}か月", "{years} y {months} m"),
    "age_months": ("生後{months}か月", "{months} months old"),
    "safety_check": ("安全確認", "Safety check"),
    "safety_confirmed": ("確認済み（{at}）", "confirmed ({at})"),
    "safety_open": ("未確認（期限 {deadline}）", "not yet confirmed (due {deadline})"),
    "safety_overdue": ("48時間以内の安全確認が期限（{deadline}）を過ぎていますが、確認の記録がありません。",
                       "The 48-hour safety check was due {deadline} and no confirmation is on record."),
    "answers_header": ("アセスメントの回答", "Assessment answers"),
    "no_assessment": ("この受付にはまだアセスメントの記録がありません（すべて未記録）。",
                      "No assessment is recorded for this intake yet (everything not recorded)."),
    "col_answer": ("回答", "Answer"),
    "col_count": ("件数", "Count"),
    "history_header": ("他機関を含むこれまでの経過（受理時点）", "History across agencies (as known at receipt)"),
    "history_help": ("予測に使われた、受理の時点までに分かっていた記録の件数です。",
                     "The counts the prediction used: what was on record by the time of receipt."),
    "holders": ("この子どもの記録がある機関:", "Agencies holding a record of this child:"),
    "since": ("{since} から", "since {since}"),
    "outcome": ("予測（参考情報）", "Prediction (for reference)"),
    "probability": ("虐待が確認された再通告または重大な被害（1年以内）の確率",
                    "Probability of a substantiated re-report or severe harm within a year"),
    "interval": ("おおよその範囲: {low}〜{high}", "Likely range: {low} to {high}"),
    "base_rate": ("参考: 受付全体では {rate} の子どもにこの結果が起きています（基準率）。",
                  "For comparison: {rate} of all intakes have this outcome (the base rate)."),
    "band_line": ("区分: {band}", "Band: {band}"),
    "probability_caption": ("{model}による、合成データで学習した確率です。判断を助けるための参考情報であり、決定は担当者が行います。",
                            "From the {model}, trained on SYNTHETIC data. Decision support only: the worker decides."),
    "model_name": ("予測モデル（第{version}版）", "prediction model (version {version})"),
    "above_threshold": ("レビュー基準（{threshold}）以上: 上席者と一緒に確認することを勧めます。"
                        "基準は、確率が受付全体の上位20%に入る水準です。",
                        "At or above the review threshold ({threshold}): look at it with a senior worker. The "
                        "threshold is where an intake is among the top 20% of probabilities."),
    "below_threshold": ("レビュー基準（{threshold}）未満です。これは安全という意味ではありません。"
                        "のちに重大な結果となった子どもの多くも、この基準未満と予測されていました。"
                        "公式シートの判定と担当者の見立てで判断してください。",
                        "Below the review threshold ({threshold}). This does NOT mean the child is safe: many "
                        "children who later came to serious harm scored below it. Decide with the official sheet "
                        "and your own assessment."),
    "disagree_model_high": ("予測モデルはレビュー基準以上ですが、公式シートは一時保護の検討を示していません。両者が食い違っています。",
                            "The model is above the review threshold, but the official sheet does not call for "
                            "considering protection: they disagree."),
    "disagree_checklist_high": ("公式シートは一時保護の検討を示していますが、予測モデルはレビュー基準未満です。両者が食い違っています。"
                                "シートの判定を軽く見ないでください。",
                                "The official sheet calls for considering protection, but the model is below the "
                                "review threshold: they disagree. Do not discount the sheet."),
    "no_champion": ("予測モデルがまだ運用されていないため、確率は表示できません。公式シートの判定を参照してください。",
                    "No prediction model is in use yet, so there is no probability: see the official sheet."),
    "reasons": ("確率を動かした主な要因", "What moved the probability most"),
    "no_reasons": ("確率を大きく動かした項目はありません。", "No input moved the probability noticeably."),
    "raised": ("上げた", "raised it"),
    "lowered": ("下げた", "lowered it"),
    "points_axis": ("確率への影響（ポイント）", "Effect on the probability (points)"),
    "col_value": ("この受付での値", "This intake"),
    "col_points": ("影響（ポイント）", "Effect (points)"),
    "reasons_help": ("各項目がなかったとした場合に確率が何ポイント変わるかの目安です（プラスは上げた、マイナスは下げた）。"
                     "合計は基準率からの差とほぼ一致しますが、厳密には一致しません。",
                     "Roughly how many points the probability would change without each item (plus raised it, minus "
                     "lowered it). They add up to about, not exactly, the distance from the base rate."),
    "unknown_moves": ("「不明」の項目も確率を動かします。確認できていないこと自体が、これまでの事例で結果と関係していたためです。"
                      "確認できた場合の変化は下の「不足している情報」を見てください。",
                      "An \"unknown\" answer moves the probability too: in past cases, not knowing was itself related "
                      "to the outcome. See \"Missing information\" below for what finding out would change."),
    "missing_info": ("不足している情報", "Missing information"),
    "missing_info_help": ("「不明」または未記録の項目です。確認できた場合に確率がどう変わるかを示します（同じモデルで再計算）。"
                          "年齢から本人に聞けない項目は除いています。",
                          "Items recorded as unknown or not recorded, and how the probability would change if each "
                          "were found out (rescored with the same model). Items a child of this age cannot answer "
                          "are left out."),
    "no_missing": ("不明・未記録の項目はありません。", "No item is unknown or missing."),
    "col_item": ("項目", "Item"),
    "col_now": ("現在", "Now"),
    "col_if": ("確認できた値", "If found to be"),
    "col_probability": ("確率", "Probability"),
    "col_change": ("変化（ポイント）", "Change (points)"),
    "checklist": ("一時保護決定に向けてのアセスメントシート", "Assessment sheet for temporary protection decisions"),
    "checklist_help": ("記録された「はい」だけが該当になります。「不明」は、確認できれば該当しうる設問です。",
                       "Only a recorded yes answers a question; unknown means it could once found out."),
    "verdict": ("判定: {verdict}", "Verdict: {verdict}"),
    # decisions
    "decision_header": ("担当者の判断", "Your decision"),
    "decision_help": ("判断は担当者が行います。選択肢は事前に選ばれていません。予測の区分や公式シートの判定と異なる判断は、"
                      "スーパーバイザーの確認に回ります。",
                      "You decide: nothing is pre-selected. A decision against the band or the official sheet goes "
                      "to your supervisor for review."),
    "disposition": ("対応", "Disposition"),
    "rationale": ("判断の理由（必須）", "Rationale (required)"),
    "amends_note": ("記録済みの判断（#{id}）を修正する新しい記録として保存されます。", "Saved as a new record amending decision #{id}."),
    "recorded_by": ("記録者: {user}", "Recorded by: {user}"),
    "submit": ("判断を記録する", "Record decision"),
    "decision_missing": ("対応を選択してください。", "Choose a disposition."),
    "rationale_missing": ("判断の理由を入力してください。", "Enter a rationale."),
    "decision_saved": ("判断を記録しました。", "Decision recorded."),
    "goes_to_review": ("この判断はスーパーバイザーの確認に回ります（{reasons}）。",
                       "This decision goes to your supervisor for review ({reasons})."),
    "previous_decisions": ("この受付の判断の記録", "Decisions recorded for this intake"),
    "col_decided_at": ("記録日時", "Recorded at"),
    "col_worker": ("記録者", "Worker"),
    "col_decision": ("対応", "Disposition"),
    "col_rationale": ("理由", "Rationale"),
    "col_probability_shown": ("表示された確率", "Probability shown"),
    "col_amends": ("修正対象", "Amends"),
    "col_review": ("確認", "Review"),
    "col_review_comment": ("確認のコメント", "Review comment"),
    # a new intake
    "choose": ("選択してください", "Choose one"),
    "received_date": ("受理日", "Date received"),
    "received_time": ("受理時刻", "Time received"),
    "child_name": ("子どもの氏名", "Child's name"),
    "child_kana": ("ふりがな（カタカナ）", "Name in kana"),
    "birth_date": ("生年月日", "Date of birth"),
    "sex": ("性別", "Sex"),
    "address_code": ("住所の市町村コード（6桁）", "Municipality code of the address (6 digits)"),
    "address_code_help": ("全国地方公共団体コード（検査数字を含む6桁）", "The national local-government code (6 digits with check digit)"),
    "items_help": ("確認できていない項目は「不明」を選ぶか、空欄のままにしてください（空欄は「不明」として保存されます）。",
                   "Choose unknown for what is not yet known, or leave it blank (saved as unknown)."),
    "field_error": ("入力を確認してください: {message}", "Check this value: {message}"),
    "entry_not_saved": ("{n} 件の入力に問題があるため、保存していません。各項目のメッセージを確認してください。",
                        "Not saved: {n} values need correcting (see the message at each field)."),
    "save_intake": ("保存して評価する", "Save and assess"),
    "intake_saved": ("受付 {report_id} を保存しました。", "Intake {report_id} saved."),
    "next_intake": ("次の受付を入力する", "Enter the next intake"),
    "identify_header": ("子どもの確認", "Which child is this?"),
    "which_child": ("記録のある子どもと同一か確認してください", "Confirm whether this is a child already on record"),
    "candidate": ("一致の確からしさ {p}・記録のある機関: {agencies}・一致: {agreeing}・不一致: {differing}",
                  "Match {p} · held by {agencies} · agreeing: {agreeing} · differing: {differing}"),
    "no_candidates": ("記録のある子どもに該当する候補はありません。", "No child on record looks like this one."),
    "new_child": ("新しい子ども（記録なし）", "A new child (not on record)"),
    "confirm_child": ("この子どもで確定する", "Confirm"),
    "child_confirmed_existing": ("記録のある子どもとして確定しました。", "Confirmed as a child on record."),
    "child_confirmed_new": ("新しい子どもとして確定しました。", "Confirmed as a new child."),
    "stale_edit": ("この受付は、開いた後に {who} さんが {at} に保存しています。上書きはしていません。再読み込みしてから操作してください。",
                   "{who} saved this intake at {at} after you opened it: nothing was overwritten. Reload it first."),
    # supervisor
    "review_help": ("予測の区分や公式シートの判定と異なる判断です。確認するか、コメントを付けて差し戻してください。",
                    "Decisions against the band or the official sheet: confirm them, or return them with a comment."),
    "review_item": ("**通告 {report}**（{agency}）・ {worker}・{at}  \n対応: **{disposition}** ・ 確率 {probability}（{band}）・ シート: {verdict}  \n確認の理由: {reasons}",
                    "**Report {report}** ({agency}) · {worker} · {at}  \nDisposition: **{disposition}** · probability {probability} ({band}) · sheet: {verdict}  \nWhy in review: {reasons}"),
    "no_reviews": ("確認待ちの判断はありません。", "No decision is waiting for review."),
    "review_comment": ("コメント（差し戻すときは必須）", "Comment (required to return)"),
    "confirm": ("確認する", "Confirm"),
    "return": ("差し戻す", "Return"),
    "reviewed": ("記録しました。", "Recorded."),
    "flags_help": ("管轄外の職員がこの機関の記録を開いた記録と、その目的です。", "Openings of this agency's records from outside the jurisdiction, with the purpose stated."),
    "no_flags": ("管轄外からの閲覧はありません。", "Nobody outside the jurisdiction has opened these records."),
    "col_at": ("日時", "When"),
    "col_role": ("役割", "Role"),
    "col_purpose": ("目的", "Purpose"),
    "refresh": ("最新の状態にする", "Refresh"),
    # admin
    "create_account": ("アカウントの作成", "Create an account"),
    "display_name": ("表示名", "Display name"),
    "role": ("役割", "Role"),
    "initial_password": ("初期パスワード（12文字以上）", "Initial password (12 characters or more)"),
    "create": ("作成する", "Create"),
    "account_created": ("アカウント {user} を作成しました。", "Account {user} created."),
    "reset_password": ("パスワードの再設定", "Reset a password"),
    "new_password": ("新しいパスワード（12文字以上）", "New password (12 characters or more)"),
    "reset": ("再設定する", "Reset"),
    "password_reset": ("{user} のパスワードを再設定しました。", "Password of {user} reset."),
    "deactivate_account": ("アカウントの停止", "Deactivate an account"),
    "deactivate": ("停止する", "Deactivate"),
    "account_deactivated": ("{user} を停止しました（記録は残ります）。", "{user} deactivated (its records are kept)."),
    "verify_chain": ("改ざん検知（ハッシュチェーン）を検証する", "Verify the hash chain"),
    "chain_ok": ("監査ログは改ざんされていません（{rows} 行を検証）。", "The audit log is intact ({rows} rows checked)."),
    "chain_broken": ("監査ログの連鎖が行 {first} で壊れています: {message}", "The audit chain breaks at row {first}: {message}"),
    "audit_shown": ("新しい順に {n} 行を表示しています。", "The newest {n} rows."),
    # data scientist
    "model_header": ("予測モデル（虐待が確認された再通告・重大な被害）", "Prediction model (substantiated re-report or severe harm)"),
    "no_model": ("登録済みのモデルがありません。データ処理で学習・登録されると表示されます。",
                 "No registered model yet: it appears once the pipeline has trained and registered one."),
    "champion": ("運用中のモデル", "In use (champion)"),
    "challenger": ("最新の候補モデル", "Latest candidate (challenger)"),
    "same_as_champion": ("最新の候補は運用中のモデルと同じ版です（昇格済み）。",
                         "The latest candidate is the version in use (promoted)."),
    "version_line": ("第{version}版 ・ 実行 {run_id} ・ 登録 {created}", "Version {version} · run {run_id} · registered {created}"),
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

_NAV = {
    "queue": ("受付一覧", "Work queue"), "entry": ("新規受付", "New intake"), "intake": ("受付の詳細", "Intake"),
    "review": ("レビュー待ち", "Review queue"), "flags": ("他管轄からの閲覧", "Openings from outside"),
    "model": ("予測モデル", "Prediction model"), "users": ("利用者の管理", "Users"), "audit": ("監査ログ", "Audit log"),
    "search": ("子どもの検索", "Find a child"), "linkage_review": ("同一児童の確認", "Linkage review"),
    "statistics": ("統計", "Statistics"), "health_handovers": ("健康記録の引き継ぎ", "Health record handovers"),
    "health_parent": ("お子さんの健診・予防接種", "Your child's checkups and vaccinations"),
}
_SECTIONS = {
    "intakes": ("受付", "Intakes"), "supervision": ("スーパーバイザー", "Supervision"),
    "analysis": ("分析", "Analysis"), "administration": ("管理", "Administration"), "health": ("母子保健", "Child health"),
    "children": ("子ども", "Children"),
    "statistics": ("統計", "Statistics"),
}
_ROLES = {
    "caseworker": ("児童福祉司", "caseworker"), "supervisor": ("スーパーバイザー", "supervisor"),
    "health_staff": ("保健師", "health staff"), "family_support": ("ひとり親相談員", "family support"),
    "manager": ("管理職", "manager"), "data_scientist": ("データ分析担当", "data scientist"),
    "admin": ("システム管理者", "administrator"),
}
_BANDS = {
    "low": ("低（基準率未満）", "low (below the base rate)"),
    "medium": ("中（基準率以上・レビュー基準未満）", "medium (base rate to review threshold)"),
    "high": ("高（レビュー基準以上）", "high (at or above the review threshold)"),
    "not_high": ("レビュー基準未満", "below the review threshold"),
}
_ABUSE = {
    "physical": ("身体的虐待", "physical"), "neglect": ("ネグレクト", "neglect"), "sexual": ("性的虐待", "sexual"),
    "psychological": ("心理的虐待", "psychological"),
}
_GROUPS = {
    "injury": ("外傷", "Injury"), "child": ("子ども", "Child"), "caregiver": ("保護者", "Caregiver"),
    "household": ("家庭環境", "Household"), "report": ("通告", "Report"),
}
_DISPOSITIONS = {
    "temporary_protection": ("一時保護", "Temporary protection"),
    "home_guidance": ("在宅指導", "Guidance at home"),
    "referral_to_municipality": ("市町村送致", "Referral to the municipality"),
    "advice_closed": ("助言終了", "Advice given, closed"),
    "continued_investigation": ("調査継続", "Investigation continues"),
    "placement": ("施設入所措置・里親委託", "Placement (residential care or foster family)"),
    "referral_to_cgc": ("児童相談所送致", "Referral to the child guidance centre"),
    "other_agency": ("他機関紹介", "Referred to another agency"),
}
_SEX = {"1": ("男", "male"), "2": ("女", "female"), "9": ("不明", "unknown")}
_EVIDENCE = {"name": ("氏名", "name"), "kana": ("ふりがな", "kana"), "birth_date": ("生年月日", "date of birth"),
             "sex": ("性別", "sex"), "address": ("住所", "address")}
_REVIEW_REASONS = {
    "against_band": ("予測の区分と異なる判断", "against the model's band"),
    "overrides_checklist": ("公式シートの判定と異なる判断", "overrides the official sheet"),
}
_STATUS = {
    "open": ("未判断", "not decided"), "decided": ("判断済み", "decided"), "in_review": ("確認待ち", "in review"),
    "returned": ("差し戻し", "returned"), "confirmed": ("確認済み", "confirmed"),
}
_REVIEW_STATUS = {
    "none": ("—", "—"), "pending": ("確認待ち", "waiting"), "in_review": ("確認待ち", "waiting"),
    "confirmed": ("確認済み", "confirmed"), "returned": ("差し戻し", "returned"),
}
_SORTS = {"score": ("確率の高い順", "Highest probability"), "received": ("新しい順", "Newest"),
          "deadline": ("安全確認の期限順", "Safety check due first")}
_SAFETY_STATES = {"confirmed": ("確認済み", "confirmed"), "open": ("未確認", "not yet"), "overdue": ("期限切れ", "overdue")}
_SOURCES = {"fed": ("連携データ", "feed"), "entered": ("アプリで入力", "entered here")}
_ACCOUNT_COLUMNS = {"user_id": ("利用者ID", "User ID"), "display_name": ("表示名", "Name"),
                    "agency_id": ("機関", "Agency"), "role": ("役割", "Role"), "active": ("有効", "Active")}
_PROMOTION_REASONS = {
    "no_champion": ("運用中のモデルがないため単独で評価: AUC {auc}", "No champion yet: AUC {auc} stands alone"),
    "auc_worse": ("AUC {auc} が同じテスト期間の運用中モデル（{champion}）を下回る",
                  "AUC {auc} is worse than the champion's {champion} on the same test slice"),
    "auc_not_worse": ("AUC {auc} ≥ 運用中モデル {champion}（同じテスト期間）", "AUC {auc} ≥ champion's {champion} on the same test slice"),
    "ece_over": ("較正誤差（ECE）{ece} が上限 {limit} を超える", "ECE {ece} exceeds {limit}"),
    "ece_within": ("較正誤差（ECE）{ece} ≤ 上限 {limit}", "ECE {ece} ≤ {limit}"),
    "gaps_within": ("属性グループ間の差は許容範囲内", "Subgroup gaps within limits"),
    "gap": ("属性グループ間の差: {detail}", "Subgroup gap: {detail}"),
}

# The managers" statistics page (app/views/statistics.py): its tables, measures, breakdowns and categories.
_STATISTICS = {
    "stats.title": ("統計（管理職）", "Statistics (managers)"),
    "stats.caption": ("10人未満のセルは秘匿しています（合計からの差し引きで求められないよう、補完的にも秘匿）。", "Cells under 10 children are withheld (and others with them, so that none can be worked out from the totals)."),
    "stats.denied": ("この画面は管理職・スーパーバイザーのみ利用できます。", "This page is for managers and supervisors."),
    "stats.table": ("集計表", "Table"),
    "stats.grain": ("期間の単位", "Period"),
    "stats.grain.quarter": ("四半期（4月始まり）", "Quarter (fiscal, from April)"),
    "stats.grain.fiscal_year": ("年度", "Fiscal year"),
    "stats.agency": ("機関", "Agency"),
    "stats.agency.all": ("全機関", "All agencies"),
    "stats.breakdown": ("内訳", "Breakdown"),
    "stats.measure": ("指標", "Measure"),
    "stats.suppressed": ("秘匿", "withheld"),
    "stats.no_cells": ("この条件で公表できる集計はありません。", "Nothing can be published for this selection."),
    "stats.download": ("表示中の表をCSVでダウンロード", "Download the table shown (CSV)"),
    "stats.col.period": ("期間", "Period"),
    "stats.col.category": ("区分", "Category"),
    "stats.col.value": ("値", "Value"),
    "table.reports": ("通告・相談件数", "Reports received"),
    "table.report_outcomes": ("安全確認・一時保護・虐待認定", "Safety checks, protection, substantiation"),
    "table.transfers": ("転居（継続ケース）と通知", "Moves of open cases and notices"),
    "table.checkups": ("乳幼児健診の未受診", "Infant checkup no-shows"),
    "table.immunizations": ("定期予防接種の接種率", "Routine immunization coverage"),
    "measure.report_count": ("件数", "Reports"),
    "measure.safety_confirmed_48h_rate": ("48時間以内の安全確認率", "Safety confirmed within 48 hours"),
    "measure.temporary_protection_rate": ("一時保護率", "Temporary protection rate"),
    "measure.substantiation_rate": ("虐待認定率", "Substantiation rate"),
    "measure.transfer_count": ("継続ケースの転居件数", "Moves of children with an open case"),
    "measure.destination_notice_rate": ("転居先への通知率", "Notice sent to the destination"),
    "measure.destination_notice_median_days": ("転居から通知までの日数（中央値）", "Days from move to notice (median)"),
    "measure.checkup_no_show_rate": ("未受診率", "No-show rate"),
    "measure.immunization_coverage_rate": ("期限内接種率", "Doses given by the due date"),
    "breakdown.all": ("なし（合計）", "None (total)"),
    "breakdown.abuse_type": ("虐待種別", "Abuse type"),
    "breakdown.route": ("経路", "Route"),
    "breakdown.age_band": ("年齢区分", "Age band"),
    "breakdown.checkup_type": ("健診の種類", "Checkup"),
    "breakdown.vaccine": ("ワクチン", "Vaccine"),
    "breakdown.birth_cohort": ("出生年度", "Birth cohort (fiscal year)"),
    "category.total": ("合計", "Total"),
    "category.multiple": ("複数の種別", "Several types"),
    "category.unknown": ("不明", "Unknown"),
    "age_band.age_0_to_2": ("0〜2歳", "0-2 years"),
    "age_band.age_3_to_school": ("3歳〜学齢前", "3 years to school"),
    "age_band.elementary": ("小学生", "Elementary school"),
    "age_band.junior_high": ("中学生", "Junior high school"),
    "age_band.high_school_and_older": ("高校生・その他", "High school and older"),
}

# The one-stop pages: the parents' navigator, chatbot and code page (no sign-in) and the desk's inbox
# (app/views/onestop_*.py).
_ONESTOP = {
    "nav.onestop_navigator": ("支援制度ナビ", "Programme navigator"),
    "nav.onestop_chat": ("チャットで質問", "Ask in the chat"),
    "nav.onestop_code": ("相談の続き（相談コード）", "Your consultation (code)"),
    "nav.onestop_inbox": ("ひとり親相談の受付箱", "Single-parent desk inbox"),
    "section.onestop": ("ひとり親相談", "Single-parent desk"),
    "onestop.entrance_title": ("保護者の方へ", "For parents"),
    "onestop.entrance_text": ("ひとり親家庭の支援制度を調べたり、質問したり、窓口に相談したりできます。サインインは不要です。",
                              "Find the programmes for single-parent families, ask a question or contact the desk. "
                              "No sign-in needed."),
    "onestop.link.onestop_navigator": ("支援制度ナビ（使えそうな制度と金額の目安）",
                                       "Programme navigator (what you may get, and how much)"),
    "onestop.link.onestop_chat": ("チャットで質問する・担当者に相談する", "Ask in the chat, or talk to a person"),
    "onestop.link.onestop_code": ("相談コードをお持ちの方（返事を見る・書く）",
                                  "I have a consultation code (read and reply)"),
    "onestop.choose": ("選んでください", "Choose"),
    "onestop.municipality": ("お住まいの市区町村", "Your municipality"),
    "onestop.municipality_code": ("お住まいの市区町村のコード（6桁）", "Your municipality's code (6 digits)"),
    # the navigator
    "onestop.nav_help": ("質問に答えると、使えそうな制度と金額の目安がわかります。入力した内容は保存されません。",
                         "Answer a few questions to see the programmes your family may qualify for. Nothing you "
                         "enter is stored."),
    "onestop.children_count": ("お子さんの人数", "Number of children"),
    "onestop.as_of": ("いつの分を調べますか", "Which month"),
    "onestop.as_of_help": ("その月の分として計算します（制度の額は年度ごとに変わります）。",
                           "Computed for that month (the amounts change every fiscal year)."),
    "onestop.relationship": ("お子さんを育てている方", "Who cares for the children"),
    "onestop.relationship.mother": ("母", "Mother"),
    "onestop.relationship.father": ("父", "Father"),
    "onestop.relationship.other": ("祖父母など（父母以外）", "Grandparent or other (not a parent)"),
    "onestop.reason_alone": ("ひとりで育てている理由", "Why you raise them alone"),
    "onestop.reason.divorced": ("離婚", "Divorced"),
    "onestop.reason.unmarried": ("未婚", "Never married"),
    "onestop.reason.widowed": ("死別", "Widowed"),
    "onestop.reason.spouse_disabled": ("配偶者に重い障害がある", "Spouse severely disabled"),
    "onestop.reason.spouse_missing": ("配偶者の行方がわからない", "Spouse missing"),
    "onestop.reason.spouse_detained": ("配偶者が拘禁されている", "Spouse detained"),
    "onestop.reason.protection_order": ("DV保護命令が出ている", "Protection order against the spouse"),
    "onestop.reason.other": ("その他", "Other"),
    "onestop.child_birth": ("{number}人目のお子さんの生年月日", "Child {number}: date of birth"),
    "onestop.child_disability": ("{number}人目のお子さんの障害", "Child {number}: disability"),
    "onestop.disability.none": ("なし", "None"),
    "onestop.disability.moderate": ("中程度", "Moderate"),
    "onestop.disability.severe": ("重度", "Severe"),
    "onestop.dependants": ("扶養している人数（税の扶養親族等の数）", "Dependants (as counted for tax)"),
    "onestop.dependants_help": ("わからなければ、お子さんの人数のままで構いません。",
                                "If unsure, leave the number of children."),
    "onestop.income_kind": ("収入の入れ方", "Income as"),
    "onestop.income_kind.salary": ("給与の年収（源泉徴収票の支払金額）", "Annual salary (before tax)"),
    "onestop.income_kind.shotoku": ("児童扶養手当の所得額がわかる", "The 所得額 of the allowance's income test"),
    "onestop.income_yen": ("金額（円・年額）", "Amount (yen a year)"),
    "onestop.child_support_yen": ("受け取っている養育費（円・年額）", "Child support received (yen a year)"),
    "onestop.child_support_help": ("給与の年収を入れた場合に使います。", "Used with the annual salary."),
    "onestop.work": ("お仕事", "Work"),
    "onestop.work.employed": ("勤めている（パート・アルバイトを含む）", "Employed (part-time too)"),
    "onestop.work.self_employed": ("自営業", "Self-employed"),
    "onestop.work.not_working": ("働いていない", "Not working"),
    "onestop.studying": ("資格を取るために学校に通っている", "Studying for a qualification"),
    "onestop.housing": ("お住まい", "Housing"),
    "onestop.housing.renting": ("民間の賃貸住宅", "Private rental"),
    "onestop.housing.own": ("持ち家", "Own home"),
    "onestop.housing.public": ("公営住宅", "Public housing"),
    "onestop.housing.with_family": ("親族と同居", "With relatives"),
    "onestop.nav_submit": ("使えそうな制度を調べる", "Show the programmes"),
    "onestop.nav_missing": ("次の項目を入れてください：{fields}", "Please fill in: {fields}"),
    "onestop.nav_bad": ("入力を確認してください（{reason}）", "Please check what you entered ({reason})"),
    "onestop.nav_results": ("使えそうな制度", "Programmes you may qualify for"),
    "onestop.likely_note": ("これは「見込み」です。受けられるか、いくらになるかは、窓口での申請と審査で決まります。",
                            "This is what is likely, not a promise: the window decides on your application."),
    "onestop.rules_info": ("{month}分として、制度の規則 {version}（{start}〜{until}）で計算しました。",
                           "Computed for {month} with the rules {version} ({start} to {until})."),
    "onestop.rules_unconfirmed": ("{month}分の金額や所得の限度額は、まだ公式に確認できていません。目安としてご覧ください。",
                                  "The amounts for {month} are not yet confirmed officially: a rough guide only."),
    "onestop.likely.yes": ("対象になる見込み", "likely"),
    "onestop.likely.maybe": ("対象になるかもしれません", "possibly"),
    "onestop.likely.no": ("対象外の見込み", "likely not"),
    "onestop.monthly": ("見込み月額：**{yen}円**（目安）", "Estimated: **{yen} yen a month**"),
    "onestop.bring": ("持ち物：{items}", "Bring: {items}"),
    "onestop.window": ("窓口：{window}", "Window: {window}"),
    "onestop.sources": ("出典：", "Sources:"),
    # the chatbot
    "onestop.chat_help": ("ひとり親家庭の制度について、登録された情報だけからお答えします。会話は保存されません。"
                          "担当者に相談したいときは下の「担当者に相談する」へ。",
                          "Answers come only from the registered information on single-parent programmes. The chat "
                          "is not stored. To talk to a person, use the button below."),
    "onestop.danger_hint": ("いま危険なときは 110番・119番、子どもの虐待は 189 へ。",
                            "In danger now: call 110 or 119; child abuse: 189."),
    "onestop.chat_welcome": ("こんにちは。手当や貸付、保育所、仕事のことなど、気になることを入力してください。",
                             "Hello. Ask about allowances, loans, nursery, work and more (in Japanese)."),
    "onestop.chat_placeholder": ("質問を入力（例：児童扶養手当はいくらもらえる？）",
                                 "Your question (e.g. 児童扶養手当はいくら？)"),
    "onestop.chat_used": ("使った情報：{programme}（出典 {source}）", "Answered from: {programme} (source {source})"),
    "onestop.chat_fallback_hint": ("担当者に直接相談することもできます（下の「担当者に相談する」）。",
                                   "You can also talk to a person (below)."),
    "onestop.open_navigator": ("支援制度ナビで金額の目安を計算する", "Compute an estimate in the navigator"),
    "onestop.talk_to_person": ("担当者に相談する", "Talk to a person"),
    "onestop.handover_what": ("市区町村のひとり親相談の窓口に、この相談を送ります。送るのは、下に書いた内容・"
                              "チャットでの質問・話に出た制度・ご希望の連絡方法・お住まいの市区町村です。"
                              "同意いただいたときだけ記録され、関係する部署（子育て支援・福祉・住宅・就労・保健）の"
                              "担当者だけが見ます。",
                              "This sends your consultation to your municipality's single-parent desk: what you write "
                              "below, your chat questions, the programmes they concerned, how to contact you and your "
                              "municipality. It is recorded only with your consent and seen only by the departments "
                              "concerned."),
    "onestop.handover_note": ("相談したいこと（任意）", "What you would like to discuss (optional)"),
    "onestop.handover_note_help": ("電話を希望する場合は、電話番号と都合のよい時間も書いてください。",
                                   "For a call, add your number and a good time."),
    "onestop.handover_preview": ("送られるチャットの質問を見る", "See the chat questions that will be sent"),
    "onestop.handover_programmes": ("話に出た制度：{programmes}", "Programmes concerned: {programmes}"),
    "onestop.contact": ("連絡方法", "How to contact you"),
    "onestop.contact.in_app": ("このサイトで（相談コード）", "Here, with the consultation code"),
    "onestop.contact.phone": ("電話", "Phone"),
    "onestop.contact.visit": ("窓口に行く", "I will come to the window"),
    "onestop.consent": ("上の内容を窓口に送り、記録することに同意します", "I agree that this is sent to the desk and recorded"),
    "onestop.handover_submit": ("同意して相談を送る", "Agree and send"),
    "onestop.consent_needed": ("同意がないため、何も送っていません（記録もしていません）。送る場合は同意にチェックを入れてください。",
                               "Nothing was sent or recorded: tick the consent box to send."),
    "onestop.handover_empty": ("相談したいことを書くか、チャットで質問してから送ってください。",
                               "Write what you need, or ask in the chat first."),
    "onestop.handover_no_municipality": ("お住まいの市区町村を選んでください。", "Choose your municipality."),
    "onestop.handover_refused": ("送れませんでした（{reason}）", "Could not send ({reason})"),
    "onestop.code_given": ("相談を受け付けました。次の相談コードを控えてください（もう一度は表示されません）。"
                           "このコードで、窓口からの返事を見たり、返事を書いたりできます（30日間）。",
                           "Your consultation was sent. Keep this code (it is not shown again): with it you can read "
                           "the desk's replies and write back for 30 days."),
    # the code page
    "onestop.code_help": ("相談コードを入れると、窓口からの返事を見て、返事を書けます。",
                          "Enter your consultation code to read the desk's replies and write back."),
    "onestop.code_label": ("相談コード", "Consultation code"),
    "onestop.code_open": ("開く", "Open"),
    "onestop.code_wrong": ("コードが違うか、期限が切れています。", "The code is wrong or has expired."),
    "onestop.code_locked": ("間違いが続いたため、{seconds}秒後にもう一度入れてください。",
                            "Too many wrong codes: try again in {seconds} s."),
    "onestop.code_expired": ("相談コードの期限が切れました。窓口に電話でお問い合わせください。",
                             "The code has expired: please call the desk."),
    "onestop.thread_about": ("相談番号 {number}（{at}受付）・{status}", "Consultation {number} (received {at}) · {status}"),
    "onestop.thread_needs": ("相談の内容", "What the consultation is about"),
    "onestop.thread_empty": ("まだ返事はありません。窓口の受付時間内に順に返事をします。",
                             "No reply yet: the desk answers in its opening hours."),
    "onestop.you": ("あなた", "You"),
    "onestop.parent": ("保護者", "Parent"),
    "onestop.reply": ("返事を書く", "Write a reply"),
    "onestop.send": ("送る", "Send"),
    "onestop.reply_refused": ("送れませんでした（{reason}）", "Not sent ({reason})"),
    "onestop.thread_closed": ("この相談は終了しました。続きは窓口にお問い合わせください。",
                              "This consultation is closed: please contact the desk."),
    "onestop.refresh": ("最新の状態にする", "Refresh"),
    "onestop.close_thread": ("閉じる（コードを忘れる）", "Close (forget the code)"),
    "onestop.status.open": ("対応中", "open"),
    "onestop.status.closed": ("終了", "closed"),
    # the desk's inbox
    "onestop.inbox_help": ("各部署に回ってきた相談です。1件の相談を全部署で共有します（対応記録は保護者には見えません）。",
                           "Consultations routed to the departments; one record shared by all of them (records of "
                           "what was done are not shown to the parent)."),
    "onestop.department": ("部署", "Department"),
    "onestop.department.child_rearing": ("子育て支援", "Child-rearing support"),
    "onestop.department.welfare": ("福祉", "Welfare"),
    "onestop.department.housing": ("住宅", "Housing"),
    "onestop.department.employment": ("就労", "Employment"),
    "onestop.department.health": ("保健", "Health"),
    "onestop.inbox_all": ("全部署の相談を表示", "Show every department's consultations"),
    "onestop.inbox_list": ("相談一覧（{count}件）", "Consultations ({count})"),
    "onestop.inbox_empty": ("この部署に回ってきた相談はありません。", "No consultation for this department."),
    "onestop.inbox_item": ("**相談 {number}** ・{status}・受付 {at}・最終更新 {last}  \n部署：{departments}  \n"
                           "制度：{programmes}・連絡方法：{contact}",
                           "**Consultation {number}** · {status} · received {at} · last activity {last}  \n"
                           "Departments: {departments}  \nProgrammes: {programmes} · Contact: {contact}"),
    "onestop.inbox_open": ("開く", "Open"),
    "onestop.inbox_record": ("相談 {number}", "Consultation {number}"),
    "onestop.inbox_record_about": ("受付 {at}・部署：{departments}・連絡方法：{contact}・{status}",
                                   "Received {at} · Departments: {departments} · Contact: {contact} · {status}"),
    "onestop.inbox_programmes": ("話に出た制度：{programmes}", "Programmes concerned: {programmes}"),
    "onestop.inbox_no_entries": ("まだやりとりはありません。", "Nothing written yet."),
    "onestop.inbox_message": ("メッセージ", "message"),
    "onestop.inbox_action": ("対応記録（保護者には非表示）", "record of what was done (not shown to the parent)"),
    "onestop.inbox_reply": ("保護者への返信（{department}として）", "Reply to the parent (as {department})"),
    "onestop.inbox_send": ("返信する", "Send the reply"),
    "onestop.inbox_done": ("対応したこと（{department}として）", "What was done (as {department})"),
    "onestop.inbox_done_help": ("他の部署が経過を見られるように記録します。保護者には表示されません。",
                                "Recorded for the other departments; not shown to the parent."),
    "onestop.inbox_close": ("この記録で相談を終了する", "Close the consultation with this record"),
    "onestop.inbox_record_action": ("対応を記録する", "Record"),
    "onestop.inbox_close_record": ("相談を閉じて一覧に戻る", "Close and back to the list"),
    "onestop.thread_closed_staff": ("この相談は終了しています。", "This consultation is closed."),
}

# The health staff's and parents' health-record pages (app/views/health.py).
_HEALTH = {
    "health.title": ("健康記録の引き継ぎ", "Health record handovers"),
    "health.help": ("転入した子どもの、前の市町村での健診と予防接種の記録です。確認したら「引き継ぎを確認」を押してください。",
                    "Children who moved in, with their previous municipality's checkups and vaccinations. Press "
                    "'Acknowledge handover' once you have read it."),
    "health.no_handovers": ("引き継ぐ子どもはいません。", "No child to hand over."),
    "health.choose": ("子どもを選ぶ", "Choose a child"),
    "health.record_header": ("子どもの健康記録（{child}）", "Health record ({child})"),
    "health.acknowledge": ("引き継ぎを確認", "Acknowledge handover"),
    "health.acknowledged": ("{at} に {by} さんが引き継ぎを確認しました。", "Acknowledged by {by} at {at}."),
    "health.not_acknowledged": ("未確認", "not yet"),
    "health.outside_region": ("区域外の市町村", "a municipality outside the region"),
    "health.issue_code": ("保護者用の閲覧コードを発行", "Issue an access code for the parents"),
    "health.code_issued": ("保護者用の閲覧コード: **{code}**（この画面でのみ表示します。90日間有効で、取り消すことができます）",
                           "Access code for the parents: **{code}** (shown here only; valid for 90 days, revocable)"),
    "health.as_of": ("{as_of} 時点・生年月: {birth}", "As of {as_of} · born {birth}"),
    "health.due_next": ("次に必要なこと", "What is due next"),
    "health.nothing_due": ("今、必要な接種はありません。", "Nothing is due now."),
    "health.immunizations": ("予防接種（定期接種）", "Routine immunizations"),
    "health.checkups": ("乳幼児健診と発育", "Checkups and growth"),
    "health.no_checkups": ("健診の記録はありません。", "No checkup on record."),
    "health.age_months": ("月齢", "Age in months"),
    "health.col.checkup": ("健診", "Checkup"), "health.col.date": ("日付", "Date"),
    "health.col.status": ("状況", "Status"), "health.col.height": ("身長（cm）", "Height (cm)"),
    "health.col.weight": ("体重（kg）", "Weight (kg)"), "health.col.result": ("結果", "Result"),
    "health.col.vaccine": ("ワクチン", "Vaccine"), "health.col.dose": ("回", "Dose"),
    "health.col.due_from": ("接種できる日から", "Due from"),
    "health.col.overdue_after": ("標準的な期間の終わり", "End of the standard period"),
    "health.col.window_ends": ("定期接種の期限", "End of the legal window"),
    "health.col.given": ("接種日", "Given on"), "health.col.moved_on": ("転入日", "Moved in"),
    "health.col.from": ("転入元", "From"), "health.col.doses_given": ("接種済み", "Doses given"),
    "health.col.due_next": ("要対応", "To act on"), "health.col.acknowledged": ("引き継ぎ確認", "Acknowledged"),
    "health.checkup.m4": ("4か月児健診", "4-month checkup"), "health.checkup.m18": ("1歳6か月児健診", "18-month checkup"),
    "health.checkup.y3": ("3歳児健診", "3-year checkup"),
    "health.checkup_status.attended": ("受診", "attended"), "health.checkup_status.no_show": ("未受診", "no-show"),
    "health.checkup_status.scheduled": ("予定", "scheduled"),
    "health.result.normal": ("異常なし", "normal"), "health.result.observe": ("経過観察", "observe"),
    "health.result.refer": ("要精密検査", "referred"), "health.result.treatment": ("要治療", "treatment"),
    "health.status.done": ("接種済み", "done"), "health.status.due": ("接種時期", "due"),
    "health.status.overdue": ("標準的な期間を過ぎています", "overdue"),
    "health.status.missed_window": ("定期接種の期限切れ", "legal window missed"),
    "health.status.ask_health_centre": ("保健センターに確認", "ask the health centre"),
    "health.status.not_on_record": ("この地域での記録なし", "not on record here"),
    "health.status.not_yet_due": ("まだ時期ではありません", "not yet due"),
    "health.vaccine.hib": ("ヒブ", "Hib"), "health.vaccine.pcv": ("小児用肺炎球菌", "PCV"),
    "health.vaccine.hepb": ("B型肝炎", "Hepatitis B"), "health.vaccine.rota": ("ロタウイルス", "Rotavirus"),
    "health.vaccine.dpt_ipv_hib": ("5種混合", "DPT-IPV-Hib"), "health.vaccine.dpt_ipv": ("4種混合", "DPT-IPV"),
    "health.vaccine.bcg": ("BCG", "BCG"), "health.vaccine.mr": ("MR（麻しん風しん）", "MR"),
    "health.vaccine.var": ("水痘", "Varicella"), "health.vaccine.je": ("日本脳炎", "Japanese encephalitis"),
    "health.parent_title": ("お子さんの健診と予防接種", "Your child's checkups and vaccinations"),
    "onestop.link.health_parent": ("お子さんの健診・予防接種の記録を見る（閲覧コードをお持ちの方）",
                                   "Your child's checkups and vaccinations (with an access code)"),
    "health.parent_help": ("市町村の窓口で受け取った閲覧コードを入力してください。表示されるのは、そのお子さんの健診・発育・予防接種の記録だけです。",
                           "Enter the access code from your municipality. It shows only your child's checkups, "
                           "growth and vaccinations."),
    "health.code": ("閲覧コード", "Access code"), "health.open": ("表示する", "Show"),
    "health.code_refused": ("コードが正しくないか、期限切れか、取り消されています。市町村の窓口にお問い合わせください。",
                            "The code is wrong, has expired or was withdrawn. Please ask your municipality."),
    "health.download_fhir": ("記録をダウンロード（FHIR形式）", "Download the record (FHIR)"),
}

# The data scientists" model page (app/views/model.py).
_MODEL_PAGE = {
    "model.side_by_side": ("現行モデルと候補モデルの比較", "Champion and challenger side by side"),
    "model.runs": ("child_risk の学習履歴", "Training runs of child_risk"),
    "model.calibration": ("較正（信頼性）プロット", "Calibration (reliability) plot"),
    "model.subgroups": ("属性別の性能（年齢区分・機関種別・都道府県）", "Performance by subgroup (age band, agency type, prefecture)"),
    "model.drift": ("ドリフト（結果が確定した期間ごと、学習期間との比較）", "Drift (each closed outcome window against the training window)"),
    "model.drift_alert": ("較正のずれが基準（±{bound:.0%}）を超えた期間があります：{windows}。再学習または再較正を検討してください。", "Calibration drifted beyond the bound (±{bound:.0%}) in: {windows}. Consider retraining or recalibration."),
    "model.drift_ok": ("較正のずれは基準（±{bound:.0%}）の範囲内です。", "Calibration stays within the bound (±{bound:.0%})."),
    "model.no_drift": ("ドリフトはまだ計算されていません。", "No drift has been computed yet."),
    "model.retraining": ("再学習", "Retraining"),
    "model.retraining_help": ("公開中のデータで学習・評価・登録を行い、昇格判定（ゲート）にかけます。実行は Dagster の画面（make dagster）にも表示されます。数分かかります。", "Trains, evaluates and registers on the published data, then the promotion gate judges the new version. The run also shows in the Dagster UI (make dagster). It takes a few minutes."),
    "model.retrain": ("再学習を開始", "Start retraining"),
    "model.retrain_refused": ("再学習を開始できません。別の実行が進行中です（{reason}）。", "Retraining cannot start: another run is in progress ({reason})."),
    "model.retraining_run": ("Dagster の実行 ID：{run_id}", "Dagster run ID: {run_id}"),
    "model.col_step": ("ステップ", "Step"),
    "model.col_status": ("状態", "Status"),
    "model.run_status.STARTING": ("開始を準備しています…", "Preparing to start…"),
    "model.run_status.QUEUED": ("順番を待っています…", "Queued…"),
    "model.run_status.NOT_STARTED": ("開始を準備しています…", "Preparing to start…"),
    "model.run_status.MANAGED": ("実行中です…", "Running…"),
    "model.run_status.STARTED": ("実行中です…", "Running…"),
    "model.run_status.CANCELING": ("中止しています…", "Canceling…"),
    "model.run_status.SUCCESS": ("再学習が完了しました。新しい候補モデルと判定結果を下に表示しています。", "Retraining finished. The new challenger and the gate's verdict are shown below."),
    "model.run_status.FAILURE": ("再学習は失敗しました", "Retraining failed"),
    "model.run_status.CANCELED": ("再学習は中止されました", "Retraining was canceled"),
    "model.run_status.REFUSED": ("再学習は開始されませんでした（別の実行が進行中）", "Retraining did not start (another run is in progress)"),
    "model.run_status.FAILED_TO_START": ("再学習を開始できませんでした", "Retraining could not start"),
    "model.denied": ("この操作はデータ分析担当のみが行えます。", "Only data scientists may do this."),
    "model.override_title": ("ゲートの判定を覆して昇格する", "Promote over the gate's rejection"),
    "model.override_help": ("v{version} は昇格判定で不合格となりました。それでも現行モデルにする場合は、理由を記入してください。理由は監査ログとモデルのバージョンに記録されます。", "The gate rejected v{version}. To make it champion anyway, write the reason: it is recorded in the audit log and on the model version."),
    "model.override_reason": ("理由（必須）", "Reason (required)"),
    "model.override_submit": ("理由を記録して昇格する", "Record the reason and promote"),
    "model.override_needs_reason": ("理由が未記入です。ゲートの判定を覆すには理由が必要です。", "No reason given: overriding the gate needs a written reason."),
    "model.override_failed": ("昇格できませんでした：{reason}", "Could not promote: {reason}"),
    "model.override_done": ("v{version} を現行モデルにしました。理由は監査ログに記録されました。スコアは次回のパイプライン実行から新しいモデルで計算されます。", "v{version} is now the champion; the reason is in the audit log. Scores come from the new model from the next pipeline run."),
    "model.recalibration": ("再較正", "Recalibration"),
    "model.recalibration_help": ("現行モデルの判定木はそのままに、学習後に結果が確定した最新の期間で確率の較正だけをやり直します。期間を受理日で前後に分け、前半で較正し、後半で現行モデルと同じ昇格判定（ゲート）にかけます。合格した場合のみ現行モデルになります。", "Keeps the champion's trees and refits only its probability calibration on the latest window whose outcomes closed after training. The window is split by date of receipt: the calibration is fitted on the earlier part, and the promotion gate judges it against the champion on the later part. It becomes champion only if the gate passes."),
    "model.recalibrate": ("再較正を実行", "Recalibrate the champion"),
    "model.recalibrate_failed": ("再較正できませんでした：{reason}", "Could not recalibrate: {reason}"),
    "model.recalibrated": ("v{source} を期間 {window} で再較正し、v{version} として登録しました（較正 {fitting} 件、判定 {test} 件）。昇格判定：{decision}", "Recalibrated v{source} on the window {window} and registered it as v{version} ({fitting} intakes to calibrate, {test} to judge). Promotion decision: {decision}"),
    "model.overridden": ("ゲートの判定を覆して昇格（{user}）：{reason}", "Promoted over the gate by {user}: {reason}"),
}

# The caseworkers' search page (app/views/search.py).
_SEARCH = {
    "title": ("子どもの検索", "Search for a child"),
    "help": ("氏名・ふりがな・生年月日で全機関の記録を検索します（旧字体、ひらがな・カタカナ、入力ミスも探します）。検索はすべて記録されます。", "Search every agency's records by name, kana and birth date (old kanji forms, hiragana or katakana and typing slips are found too). Every search is recorded."),
    "name": ("氏名（漢字）", "Name (kanji)"),
    "kana": ("ふりがな", "Kana"),
    "birth_date": ("生年月日（YYYY-MM-DD）", "Birth date (YYYY-MM-DD)"),
    "sex": ("性別", "Sex"),
    "sex_any": ("指定なし", "Any"),
    "sex_1": ("男", "Male"),
    "sex_2": ("女", "Female"),
    "submit": ("検索", "Search"),
    "bad_query": ("入力を確認してください：{reason}", "Please check the query: {reason}"),
    "refused": ("この操作はできません：{reason}", "Not allowed: {reason}"),
    "unavailable": ("データを読み込めません。しばらくしてから再度お試しください。", "The data cannot be read now. Please try again later."),
    "none": ("該当する子どもは見つかりませんでした。", "No child found."),
    "result": ("**{rank}.** 一致度 {score}\u3000{reason}", "**{rank}.** Score {score} — {reason}"),
    "record": ("記録：{name}（{kana}）生年月日 {birth}", "Record: {name} ({kana}), born {birth}"),
    "outside": ("管轄外の機関の記録です（保有機関と時期のみ表示）。", "Held outside your jurisdiction (holders and dates only)."),
    "holding": ("{agency}：{first} 〜 {last}", "{agency}: {first} to {last}"),
    "undecided": ("⚠ 同一人物かどうか未判定の組があります（スーパーバイザーの確認待ち）。", "⚠ A pair of this child's records awaits a supervisor's decision (same child or not)."),
}

# The supervisors' linkage review page (app/views/linkage_review.py).
_LINKAGE_REVIEW = {
    "title": ("名寄せの確認", "Record linkage review"),
    "help": ("同じ子どもか判断がつかなかった記録の組です。両方の記録を見比べて判断してください。判断は次回以降の処理すべてに反映され、再学習でも変わりません。", "Pairs of records the linkage could not decide. Compare both records and decide; the decision is applied by every later run and survives retraining."),
    "none": ("確認待ちの組はありません。", "No pairs are waiting."),
    "pair": ("{left} と {right}\u3000一致確率 {probability}（{reason}）", "{left} and {right} — probability {probability} ({reason})"),
    "reason.uncertain": ("判定保留", "uncertain"),
    "reason.agency_conflict": ("同一機関の2つのIDが結合されるため保留", "would join two IDs of one agency"),
    "reason.decision_conflict": ("他の判断と矛盾", "contradicts other decisions"),
    "open": ("記録を見る", "Open the records"),
    "left": ("記録A", "Record A"),
    "right": ("記録B", "Record B"),
    "variant": ("{name}（{kana}）生年月日 {birth}\u3000性別 {sex}\u3000地域 {places}", "{name} ({kana}), born {birth}, sex {sex}, places {places}"),
    "agree": ("一致：{fields}", "Agree: {fields}"),
    "differ": ("不一致：{fields}", "Differ: {fields}"),
    "field.name": ("氏名", "name"),
    "field.kana": ("ふりがな", "kana"),
    "field.birth_date": ("生年月日", "birth date"),
    "field.sex": ("性別", "sex"),
    "field.place": ("地域", "place"),
    "comment": ("判断の理由（任意）", "Reason for the decision (optional)"),
    "same": ("同じ子ども", "Same child"),
    "different": ("別の子ども", "Different children"),
    "decided": ("判断を記録しました。次回の処理から反映されます。", "Decision recorded; the next run applies it."),
    "refused": ("この操作はできません：{reason}", "Not allowed: {reason}"),
    "unavailable": ("データを読み込めません。しばらくしてから再度お試しください。", "The data cannot be read now. Please try again later."),
}


def _merge(*tables: tuple[str, dict[str, tuple[str, str]]]) -> dict[str, dict[str, str]]:
    text: dict[str, dict[str, str]] = {language: {} for language in LANGUAGES}
    for prefix, table in tables:
        for key, values in table.items():
            for language, value in zip(LANGUAGES, values, strict=True):
                text[language][f"{prefix}{key}"] = value
    return text


TEXT = _merge(("", _UI), ("feature.", {**_ITEMS, **_OTHER_FEATURES}), ("code.", _CODES),
              ("route.", _ROUTES), ("decision.", _DECISIONS), ("question.", _QUESTIONS), ("verdict.", _VERDICTS),
              ("nav.", _NAV), ("section.", _SECTIONS), ("role.", _ROLES), ("band.", _BANDS),
              ("abuse.", _ABUSE), ("group.", _GROUPS), ("disposition.", _DISPOSITIONS), ("status.", _STATUS),
              ("review_status.", _REVIEW_STATUS), ("sort.", _SORTS), ("safety_state.", _SAFETY_STATES),
              ("source.", _SOURCES), ("col_account.", _ACCOUNT_COLUMNS), ("promotion_reason.", _PROMOTION_REASONS),
              ("review_reason.", _REVIEW_REASONS), ("sex.", _SEX), ("evidence.", _EVIDENCE), ("", _STATISTICS),
              ("", _ONESTOP), ("", _HEALTH), ("", _MODEL_PAGE), ("search.", _SEARCH),
              ("linkage_review.", _LINKAGE_REVIEW))


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


def age_text(age_years: float, language: str = DEFAULT_LANGUAGE) -> str:
    """An age as staff write it: 1歳2か月, or 生後2か月 under a year (1 y 2 m / 2 months old)."""
    months = max(math.floor(age_years * 12 + 1e-6), 0)
    years, rest = divmod(months, 12)
    if years == 0:
        return t("age_months", language, months=rest)
    return t("age_years_months", language, years=years, months=rest)


def feature_label(name: str, language: str = DEFAULT_LANGUAGE) -> str:
    return t(f"feature.{name}", language)


def value_label(feature: str, value, language: str = DEFAULT_LANGUAGE) -> str:
    """A feature's value as a worker reads it: a code's words, a flag as yes / no, an age in years, a count."""
    if feature == "route" and has(f"route.{value}", language):
        return t(f"route.{value}", language)
    if feature == "has_assessment" or feature.startswith("abuse_"):
        return t("code.yes" if value in (1, "1", True) else "code.no", language)
    if feature == "age_years" and isinstance(value, int | float):
        return age_text(float(value), language)
    if isinstance(value, str) and has(f"code.{value}", language):
        return t(f"code.{value}", language)
    return str(value)
