# gnuplot docs/experiments/carry-mean-loss/tradeoff.png.gnuplot (from the repository root)
set terminal pngcairo size 900,600 noenhanced font 'sans,11'
set output 'docs/experiments/carry-mean-loss/tradeoff.png'
set datafile separator ','
set key bottom right
set grid
set logscale x 2
set xlabel 'tokens per clip (16 frames x 64x64)'
set ylabel 'PSNR (dB), 48 held-out clips'
set title 'Shipped carry model (recipes/cpu-carry, 2 CPU cores): quality-cost trade-off'
d = 'docs/experiments/carry-mean-loss/'
plot d.'eval-final.summary.csv' using (strcol(1) eq 'uniform' ? $4 : NaN):5 with linespoints lw 2 pt 7 title 'uniform K per block', \
     d.'eval-final.summary.csv' using (strcol(1) eq 'router' ? $4 : NaN):5 with linespoints lw 2 pt 5 title 'router (wq 0.6 to 12)', \
     d.'eval-search.summary.csv' using (strcol(1) eq 'search' ? $4 : NaN):5 with linespoints lw 2 pt 9 title 'max proxy reward, exact (wq 1.2, 4, 8)', \
     d.'eval-baseline.summary.csv' using (strcol(1) eq 'baseline' ? $4 : NaN):5 with points pt 13 ps 2 title 'uniform-32 model, same recipe (stage 5)'
