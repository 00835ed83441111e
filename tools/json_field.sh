# json_field.sh — sourced by the sweeps in tools/ that read metascope's --json
# lines (one flat JSON object per line), so they share one reader.
# field NAME < one JSON line: the number or string after "NAME":
field() {
  sed -n "s/.*\"$1\": *\"\{0,1\}\([^,\"}]*\).*/\1/p"
}
