# Router curves of the CPU carry model's final tokenizer on the 48 held-out
# clips, from the eval summaries beside this file (and the first run's):
#   cd docs/experiments/carry-routers && gnuplot routers.gnuplot
set datafile separator ','
set terminal pngcairo size 900,600
set output 'tradeoff-routers.png'
set title 'CPU carry model, held-out split: routers, exact search, uniform'
set xlabel 'tokens per 16x64x64 clip'
set ylabel 'PSNR (dB)'
set key bottom right font ',10'
set grid
set xrange [28:150]
set yrange [20.8:22.8]
pick(m) = strcol(1) eq m ? $5 : NaN
plot '../carry-first-run/eval-carry-final.summary.csv' using 4:(pick('uniform')) with linespoints lw 2 pt 7 title 'uniform assignments', \
     '' using 4:(pick('search')) with linespoints lw 2 pt 9 title 'exact search (max proxy reward)', \
     '' using 4:(pick('router')) with linespoints lw 1 pt 4 title 'recipe router: pixels+motion, argmax, 128 labels, wq to 2.5', \
     'eval-router-wq8.summary.csv' using 4:(pick('router')) with linespoints lw 1 pt 6 title 'same, wq to 8', \
     'eval-router-qstats-128.summary.csv' using 4:(pick('router')) with linespoints lw 1 pt 8 title 'stats, quality target, 128 labels', \
     'eval-router-qstats-256.summary.csv' using 4:(pick('router')) with linespoints lw 2 pt 10 title 'stats, quality target, 256 labels', \
     'eval-router-cemotion-256.summary.csv' using 4:(pick('router')) with linespoints lw 1 pt 12 title 'pixels+motion, argmax, 256 labels, wq to 8', \
     'eval-router-cestats-256.summary.csv' using 4:(pick('router')) with linespoints lw 2 pt 5 title 'stats, argmax, 256 labels, wq to 8', \
     'eval-router-wq8.summary.csv' using 4:(pick('baseline')) with points pt 3 ps 2 title 'equal-steps uniform-32 baseline model'
